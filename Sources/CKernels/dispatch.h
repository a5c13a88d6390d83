/* Internal to CKernels: which instruction-set variants this build has. */
#ifndef MPILEARN_CKERNELS_DISPATCH_H
#define MPILEARN_CKERNELS_DISPATCH_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MPL_X86_64 1
#else
#define MPL_X86_64 0
#endif

#endif
