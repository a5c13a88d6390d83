/*
 * CHDF5: the C shim between MPILearn and the system's parallel HDF5 library.
 *
 * HDF5's property-list classes, predefined datatypes and file flags are macros that call
 * H5open() and read library globals; Swift cannot import them, so each one MPILearn uses is
 * returned by a static inline function here. H5Pset_fapl_mpio takes an MPI_Comm, whose
 * kind differs between Open MPI (a pointer) and MPICH (an int): it is passed here as the
 * address of the caller's handle (SwiftMPI's MPIHandleProvider), so MPILearn never
 * imports mpi.h types itself. This is not API: only the MPILearn target imports it.
 */
#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H

#include <hdf5.h>
#include <string.h>

/* Defaults and property-list classes */
static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_s_all(void) { return H5S_ALL; }
static inline hid_t chdf5_e_default(void) { return H5E_DEFAULT; }
static inline hid_t chdf5_p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t chdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_p_dataset_xfer(void) { return H5P_DATASET_XFER; }
static inline hid_t chdf5_p_group_create(void) { return H5P_GROUP_CREATE; }
static inline hid_t chdf5_p_link_create(void) { return H5P_LINK_CREATE; }

/* File access flags */
static inline unsigned chdf5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline unsigned chdf5_acc_trunc(void) { return H5F_ACC_TRUNC; }

/* Predefined datatypes */
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t chdf5_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t chdf5_c_s1(void) { return H5T_C_S1; }
static inline size_t chdf5_variable(void) { return H5T_VARIABLE; }

/* Parallel HDF5: 1 when the library was built with MPI-IO (H5_HAVE_PARALLEL). */
static inline int chdf5_is_parallel(void) {
#ifdef H5_HAVE_PARALLEL
    return 1;
#else
    return 0;
#endif
}

/*
 * Selects the MPI-IO file driver on a file-access property list. `comm` is the address of
 * an MPI_Comm handle (HDF5 duplicates the communicator). Returns -1 when the library has no
 * MPI-IO driver.
 */
static inline herr_t chdf5_set_fapl_mpio(hid_t fapl, const void *comm) {
#ifdef H5_HAVE_PARALLEL
    return H5Pset_fapl_mpio(fapl, *(const MPI_Comm *)comm, MPI_INFO_NULL);
#else
    (void)fapl; (void)comm;
    return -1;
#endif
}

/* Collective (1) or independent (0) raw-data transfers on a dataset-transfer list. */
static inline herr_t chdf5_set_dxpl_mpio(hid_t dxpl, int collective) {
#ifdef H5_HAVE_PARALLEL
    return H5Pset_dxpl_mpio(dxpl, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT);
#else
    (void)dxpl; (void)collective;
    return -1;
#endif
}

/* Stops HDF5 from printing its error stack; MPILearn reads it (chdf5_error_message). */
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

struct chdf5_error_buffer { char *text; size_t capacity; int entries; };

static herr_t chdf5_error_walk(unsigned n, const H5E_error2_t *e, void *data) {
    struct chdf5_error_buffer *b = (struct chdf5_error_buffer *)data;
    (void)n;
    if (b->entries >= 2 || e->desc == NULL || e->desc[0] == 0) return 0;
    size_t used = strlen(b->text);
    if (used + 3 >= b->capacity) return 0;
    if (used > 0) { strcat(b->text, "; "); used += 2; }
    strncat(b->text, e->desc, b->capacity - used - 1);
    b->entries++;
    return 0;
}

/*
 * The innermost two messages of this thread's HDF5 error stack ("; "-separated) into
 * `text` (NUL-terminated, at most capacity - 1 bytes), then clears the stack.
 */
static inline void chdf5_error_message(char *text, size_t capacity) {
    struct chdf5_error_buffer b = { text, capacity, 0 };
    if (capacity == 0) return;
    text[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, chdf5_error_walk, &b);
    H5Eclear2(H5E_DEFAULT);
}

#endif
