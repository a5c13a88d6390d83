/* Picks the kernels' instruction-set variant once per process: the widest one both the CPU
 * and the operating system support (CPUID feature bits, and XGETBV for the register state
 * the OS saves), unless MPILEARN_KERNELS asks for a narrower one ("scalar", "avx2",
 * "avx512"; a wider one than the machine has falls back to what it has). All variants
 * return the same bits, so the choice changes speed only. */
#include "ckernels.h"
#include "dispatch.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if MPL_X86_64
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static mpl_kernels_isa detect(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return MPL_KERNELS_SCALAR;
    const unsigned int osxsave = 1u << 27, avx = 1u << 28;
    if ((c & (osxsave | avx)) != (osxsave | avx)) return MPL_KERNELS_SCALAR;
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return MPL_KERNELS_SCALAR;               /* SSE and AVX state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return MPL_KERNELS_SCALAR;
    const unsigned int avx2 = 1u << 5, avx512f = 1u << 16, avx512vl = 1u << 31;
    if (!(b & avx2)) return MPL_KERNELS_SCALAR;
    if ((b & avx512f) && (b & avx512vl) && (xcr0 & 0xE0) == 0xE0)     /* opmask, ZMM state */
        return MPL_KERNELS_AVX512;
    return MPL_KERNELS_AVX2;
}
#else
static mpl_kernels_isa detect(void) { return MPL_KERNELS_SCALAR; }
#endif

/* -1 until decided; every thread that races here computes the same value. */
static _Atomic int active = -1;

mpl_kernels_isa mpl_kernels_active(void) {
    int isa = atomic_load_explicit(&active, memory_order_relaxed);
    if (isa >= 0) return (mpl_kernels_isa)isa;
    isa = detect();
    const char *want = getenv("MPILEARN_KERNELS");
    if (want && *want) {
        int asked = isa;
        if (strcmp(want, "scalar") == 0) asked = MPL_KERNELS_SCALAR;
        else if (strcmp(want, "avx2") == 0) asked = MPL_KERNELS_AVX2;
        else if (strcmp(want, "avx512") == 0) asked = MPL_KERNELS_AVX512;
        if (asked < isa) isa = asked;
    }
    atomic_store_explicit(&active, isa, memory_order_relaxed);
    return (mpl_kernels_isa)isa;
}

mpl_kernels_isa mpl_kernels_use(mpl_kernels_isa isa) {
    int best = detect();
    int chosen = (int)isa < best ? (int)isa : best;
    if (chosen < 0) chosen = MPL_KERNELS_SCALAR;
    atomic_store_explicit(&active, chosen, memory_order_relaxed);
    return (mpl_kernels_isa)chosen;
}

const char *mpl_kernels_name(mpl_kernels_isa isa) {
    switch (isa) {
    case MPL_KERNELS_AVX512: return "avx512";
    case MPL_KERNELS_AVX2: return "avx2";
    default: return "scalar";
    }
}
