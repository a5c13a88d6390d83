// swift-tools-version:6.0
import PackageDescription
import Foundation

// The CMake build (CMakeLists.txt, scripts/cmake-build) mirrors these targets; each target
// folder's CMakeLists.txt is excluded here.
//
// MPI is found through pkg-config. Debian/Ubuntu ship `mpi-c` for whichever MPI is the
// system default (Open MPI or MPICH); elsewhere set MPILEARN_MPI_PKG=ompi-c or mpich.
let env = ProcessInfo.processInfo.environment
let mpiPkg = env["MPILEARN_MPI_PKG"] ?? "mpi-c"
let blasPkg = env["MPILEARN_BLAS_PKG"] ?? "openblas"
// Parallel HDF5 built for the same MPI: Debian's libhdf5-openmpi-dev (`hdf5-openmpi`) or
// libhdf5-mpich-dev (`hdf5-mpich`, chosen when MPILEARN_MPI_PKG=mpich); elsewhere set
// MPILEARN_HDF5_PKG.
let hdf5Pkg = env["MPILEARN_HDF5_PKG"] ?? (mpiPkg == "mpich" ? "hdf5-mpich" : "hdf5-openmpi")

let package = Package(
    name: "MPILearn",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SwiftMPI", targets: ["SwiftMPI"]),
        .library(name: "MPILearn", targets: ["MPILearn"]),
        .executable(name: "mpilearn", targets: ["mpilearn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        .systemLibrary(
            name: "CMPI", path: "Sources/CMPI", pkgConfig: mpiPkg,
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(
            name: "CLinearAlgebra", path: "Sources/CLinearAlgebra", pkgConfig: blasPkg,
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: hdf5Pkg,
            providers: [.apt(["libhdf5-openmpi-dev"])]),
        // libmvec: glibc's vector math (the SVM's RBF kernel rows call its 4-wide exp).
        .target(name: "CKernels", path: "Sources/CKernels", exclude: ["CMakeLists.txt", "README.md"],
                linkerSettings: [.linkedLibrary("mvec", .when(platforms: [.linux]))]),
        .target(name: "SwiftMPI", dependencies: ["CMPI"], exclude: ["CMakeLists.txt"]),
        .target(name: "MPILearn", dependencies: ["SwiftMPI", "CLinearAlgebra", "CKernels", "CHDF5", .product(name: "Yams", package: "Yams"),
                                           .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                exclude: ["CMakeLists.txt"]),
        .executableTarget(
            name: "mpilearn",
            dependencies: [
                "MPILearn", "SwiftMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["CMakeLists.txt"]),
        .executableTarget(
            name: "mpilearn-selftest", dependencies: ["MPILearn", "SwiftMPI"], path: "Tests/SelfTest",
            exclude: ["CMakeLists.txt"]),
        .executableTarget(
            name: "mpilearn-bench-collectives", dependencies: ["SwiftMPI"], path: "Benchmarks/collectives/Swift"),
        // The program of docs/library.md: load data, grid search with cross-validation, save the best model.
        .executableTarget(
            name: "mpilearn-example-search", dependencies: ["MPILearn", "SwiftMPI"], path: "Examples/search",
            exclude: ["CMakeLists.txt"]),
        .target(name: "TestSupport", dependencies: ["MPILearn", "SwiftMPI"], path: "Tests/TestSupport"),
        .testTarget(name: "SwiftMPITests", dependencies: ["SwiftMPI", "TestSupport"]),
        .testTarget(name: "MPILearnTests", dependencies: ["MPILearn", "SwiftMPI", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)

// libFuzzer targets (Fuzz/, docs/fuzzing.md): declared only with MPILEARN_FUZZ=1, so the normal
// build never sees them; scripts/fuzz builds them with `--sanitize fuzzer --sanitize address`.
if env["MPILEARN_FUZZ"] == "1" {
    package.targets.append(.target(name: "FuzzSupport", path: "Fuzz/FuzzSupport"))
    for name in ["fuzz-csv", "fuzz-npy", "fuzz-model", "fuzz-text"] {
        package.targets.append(.executableTarget(name: name, dependencies: ["MPILearn", "SwiftMPI", "FuzzSupport"], path: "Fuzz/\(name)"))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
