/*
 * CLinearAlgebra: CBLAS and LAPACKE for MPILearn. Not API; MPILearn's Linear area wraps it.
 * Headers come from OpenBLAS (cblas.h, found with pkg-config `openblas`) and LAPACKE.
 */
#ifndef CLINEARALGEBRA_SHIM_H
#define CLINEARALGEBRA_SHIM_H
#include <cblas.h>
#include <lapacke.h>
#endif
