// Built and run by scripts/check-mpich against MPICH and Debian's libhdf5-mpich: parallel
// HDF5 through SwiftMPI's MPIHandleProvider (MPICH's MPI_Comm is an int, Open MPI's a
// pointer; CHDF5 reads it through the address SwiftMPI lends). Every rank writes its own
// element of a 1-D dataset through MPI-IO; rank 0 reopens the file serially and checks.
//
//   mpiexec -n 3 ./hdf5-probe-mpich FILE.h5
import CHDF5
import SwiftMPI

struct ProbeFailure: JobError {
    var description: String
    var exitCode: JobExitCode { .software }
}

func check(_ ok: Bool, _ what: String) throws { if !ok { throw ProbeFailure(description: "hdf5 probe: \(what) failed") } }

let path = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "probe.h5"
Job.run { world in
    chdf5_silence_errors()
    let fapl = H5Pcreate(chdf5_p_file_access())
    try check(world.withUnsafeMPICommunicator { chdf5_set_fapl_mpio(fapl, $0) } >= 0, "H5Pset_fapl_mpio")
    let file = H5Fcreate(path, chdf5_acc_trunc(), chdf5_p_default(), fapl)
    try check(file >= 0, "H5Fcreate through MPI-IO")
    var dims = [hsize_t(world.size)]
    let space = H5Screate_simple(1, &dims, nil)
    let d = H5Dcreate2(file, "ranks", chdf5_std_i64le(), space, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
    try check(d >= 0, "H5Dcreate2")
    var offset = [hsize_t(world.rank)], count = [hsize_t(1)]
    _ = H5Sselect_hyperslab(space, H5S_SELECT_SET, &offset, nil, &count, nil)
    let mem = H5Screate_simple(1, &count, nil)
    var value = Int64(world.rank * 10 + 7)
    try check(H5Dwrite(d, chdf5_native_int64(), mem, space, chdf5_p_default(), &value) >= 0, "H5Dwrite of this rank's element")
    _ = H5Sclose(mem); _ = H5Sclose(space); _ = H5Dclose(d); _ = H5Pclose(fapl)
    try check(H5Fclose(file) >= 0, "H5Fclose (collective)")
    try world.barrier()
    if world.rank == 0 {
        let f = H5Fopen(path, chdf5_acc_rdonly(), chdf5_p_default())
        let r = H5Dopen2(f, "ranks", chdf5_p_default())
        var back = [Int64](repeating: -1, count: world.size)
        try check(H5Dread(r, chdf5_native_int64(), chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), &back) >= 0, "H5Dread")
        _ = H5Dclose(r); _ = H5Fclose(f)
        try check(back == (0 ..< world.size).map { Int64($0 * 10 + 7) }, "values \(back)")
        print("hdf5 probe: \(world.size) ranks wrote \(back) through MPI-IO")
    }
}
