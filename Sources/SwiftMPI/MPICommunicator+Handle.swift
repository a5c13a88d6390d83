import CMPI

/// A communicator that can lend its underlying MPI communicator to a library that takes an
/// `MPI_Comm` itself: parallel HDF5's MPI-IO driver, PnetCDF, ADIOS2.
///
/// Only SwiftMPI imports MPI's headers, and an `MPI_Comm` is a pointer in Open MPI but an
/// `int` in MPICH, so the handle is lent as the address of an `MPI_Comm` value, to be read
/// by C code compiled against the same `mpi.h` (`*(const MPI_Comm *)handle`). The handle
/// belongs to the communicator: a library that keeps it beyond `body` must duplicate it
/// (`MPI_Comm_dup`; HDF5's `H5Pset_fapl_mpio` does).
///
/// ``MPICommunicator`` conforms; ``LocalCommunicator`` (ranks as threads in one process)
/// does not, so code that needs MPI-IO checks for a non-MPI communicator and takes a serial
/// path instead:
///
/// ```swift
/// if let mpi = comm as? any MPIHandleProvider {
///     try mpi.withUnsafeMPICommunicator { handle in chdf5_set_fapl_mpio(fapl, handle) }
/// }
/// ```
public protocol MPIHandleProvider: Communicator {
    /// Calls `body` with the address of this communicator's `MPI_Comm` handle, valid only
    /// during the call. Not collective by itself; what `body` does with the handle may be.
    func withUnsafeMPICommunicator<R>(_ body: (UnsafeRawPointer) throws -> R) rethrows -> R
}

extension MPICommunicator: MPIHandleProvider {
    public func withUnsafeMPICommunicator<R>(_ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
        var handle: MPI_Comm = comm
        return try withUnsafePointer(to: &handle) { try body(UnsafeRawPointer($0)) }
    }
}
