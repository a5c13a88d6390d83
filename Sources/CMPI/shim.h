/*
 * CMPI: the C shim between SwiftMPI and the system's MPI library.
 *
 * MPI implementations define handles and constants as macros (Open MPI: addresses of
 * global objects; MPICH: integer casts). Swift cannot import such macros, so each one
 * this project uses is returned by a static inline function here. This is not API:
 * only the SwiftMPI target imports it.
 */
#ifndef CMPI_SHIM_H
#define CMPI_SHIM_H

#include <mpi.h>

/* Communicators, groups, requests, status */
static inline MPI_Comm cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm cmpi_comm_self(void) { return MPI_COMM_SELF; }
static inline MPI_Comm cmpi_comm_null(void) { return MPI_COMM_NULL; }
static inline int cmpi_undefined(void) { return MPI_UNDEFINED; }
static inline int cmpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int cmpi_any_tag(void) { return MPI_ANY_TAG; }
static inline MPI_Request cmpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *cmpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *cmpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
static inline void *cmpi_in_place(void) { return MPI_IN_PLACE; }
static inline int cmpi_status_source(const MPI_Status *s) { return s->MPI_SOURCE; }
static inline int cmpi_status_tag(const MPI_Status *s) { return s->MPI_TAG; }
static inline int cmpi_status_error(const MPI_Status *s) { return s->MPI_ERROR; }

/*
 * Communicator constructors and destructor that return the handle instead of writing it
 * through an out parameter. Open MPI's handles are pointers (Swift: OpaquePointer), MPICH's
 * are ints (Swift: Int32); `var c: MPI_Comm? ; MPI_Comm_dup(x, &c)` compiles only against
 * Open MPI, while `let c: MPI_Comm = cmpi_comm_dup(x, &rc)` compiles against both.
 */
static inline MPI_Comm cmpi_comm_dup(MPI_Comm comm, int *rc) {
    MPI_Comm out = MPI_COMM_NULL;
    *rc = MPI_Comm_dup(comm, &out);
    return out;
}
static inline MPI_Comm cmpi_comm_split(MPI_Comm comm, int color, int key, int *rc) {
    MPI_Comm out = MPI_COMM_NULL;
    *rc = MPI_Comm_split(comm, color, key, &out);
    return out;
}
static inline int cmpi_comm_free(MPI_Comm comm) { return MPI_Comm_free(&comm); }

/*
 * One-sided communication (RMA windows). Like communicators, a window comes back as the
 * return value (Open MPI: a pointer, MPICH: an int). The other RMA calls SwiftMPI makes
 * (MPI_Win_lock_all, MPI_Fetch_and_op, MPI_Win_flush, MPI_Win_sync, MPI_Win_unlock_all,
 * MPI_Win_set_errhandler) take handles by value and are called directly.
 */
static inline MPI_Win cmpi_win_null(void) { return MPI_WIN_NULL; }
static inline int cmpi_mode_nocheck(void) { return MPI_MODE_NOCHECK; }
/* MPI_Win_allocate with MPI_INFO_NULL; `*base` receives this rank's window memory. */
static inline MPI_Win cmpi_win_allocate(MPI_Aint size, int disp_unit, MPI_Comm comm, void *base, int *rc) {
    MPI_Win out = MPI_WIN_NULL;
    *rc = MPI_Win_allocate(size, disp_unit, MPI_INFO_NULL, comm, base, &out);
    return out;
}
static inline int cmpi_win_free(MPI_Win win) { return MPI_Win_free(&win); }

/* Datatypes */
static inline MPI_Datatype cmpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype cmpi_char(void) { return MPI_CHAR; }
static inline MPI_Datatype cmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype cmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype cmpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype cmpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype cmpi_uint8(void) { return MPI_UINT8_T; }
static inline MPI_Datatype cmpi_uint32(void) { return MPI_UINT32_T; }
static inline MPI_Datatype cmpi_uint64(void) { return MPI_UINT64_T; }

/* Reduction operations */
static inline MPI_Op cmpi_op_sum(void) { return MPI_SUM; }
static inline MPI_Op cmpi_op_prod(void) { return MPI_PROD; }
static inline MPI_Op cmpi_op_min(void) { return MPI_MIN; }
static inline MPI_Op cmpi_op_max(void) { return MPI_MAX; }

/* Error handling */
static inline MPI_Errhandler cmpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int cmpi_success(void) { return MPI_SUCCESS; }
static inline int cmpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
static inline int cmpi_max_processor_name(void) { return MPI_MAX_PROCESSOR_NAME; }
static inline int cmpi_max_library_version_string(void) { return MPI_MAX_LIBRARY_VERSION_STRING; }

/* Thread levels */
static inline int cmpi_thread_single(void) { return MPI_THREAD_SINGLE; }
static inline int cmpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int cmpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int cmpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }

#endif
