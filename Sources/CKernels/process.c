/* Process-wide allocator setting the CLI applies at start-up. Here because Swift's Glibc
 * module does not include <malloc.h>, so `mallopt` is not visible from Swift. */
#include "ckernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int mpl_set_trim_threshold(size_t bytes) {
#if defined(__GLIBC__)
    return mallopt(M_TRIM_THRESHOLD, (int)bytes);
#else
    (void)bytes;
    return 0;
#endif
}

int mpl_pin_mmap_threshold(size_t bytes) {
#if defined(__GLIBC__)
    return mallopt(M_MMAP_THRESHOLD, (int)bytes);
#else
    (void)bytes;
    return 0;
#endif
}

/* Walltime and preemption signals (SIGTERM, SIGUSR1; see Core/Checkpoint.swift). The
 * handler only records the first signal's number: a long fit polls mpl_stop_signal() at the
 * end of each unit of work, the ranks agree on it in a collective, write a checkpoint and
 * exit 75. SA_RESTART keeps system calls inside MPI from failing with EINTR. Here because a
 * signal handler must be async-signal-safe C, which a Swift closure is not. */
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t mpl_stop_signal_number = 0;

static void mpl_stop_handler(int sig) {
    if (mpl_stop_signal_number == 0) mpl_stop_signal_number = sig;
}

int mpl_stop_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = mpl_stop_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0) return -1;
    if (sigaction(SIGUSR1, &sa, NULL) != 0) return -1;
    return 0;
}

int mpl_stop_signal(void) { return (int)mpl_stop_signal_number; }


void mpl_stop_uninstall(void) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    /* A signal that came after the fit's last checkpoint boundary is dropped: the fit is
     * complete, and the job goes on to write its outputs. */
    mpl_stop_signal_number = 0;
}
