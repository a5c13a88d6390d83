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
