# Finds what MPILearn links against: MPI (C bindings), OpenBLAS (CBLAS) + LAPACKE, parallel HDF5, Yams
# (YAML parser, used by the MPILearn library: parameter grid files), ZIPFoundation (zip
# archives: scipy's .npz files) and swift-argument-parser (for the CLI only). Each failure says what to install.

# --- MPI ----------------------------------------------------------------------------------
# FindMPI asks the MPI compiler wrapper (mpicc) for include paths and libraries, so Open MPI,
# MPICH and vendor MPIs behind `module load` all work. Point it elsewhere with
# -DMPI_C_COMPILER=/path/to/mpicc.
find_package(MPI COMPONENTS C)
if(NOT MPI_C_FOUND)
  message(FATAL_ERROR
    "MPILearn: no MPI C library found.\n"
    "  Debian/Ubuntu: apt-get install libopenmpi-dev openmpi-bin   (or libmpich-dev mpich)\n"
    "  Cluster:       module load openmpi (or your site's MPI), or pass -DMPI_C_COMPILER=/path/to/mpicc")
endif()

# --- BLAS and LAPACKE ----------------------------------------------------------------------
# SwiftPM finds OpenBLAS through pkg-config (MPILEARN_BLAS_PKG); so does this build. Without
# pkg-config, FindBLAS plus a search for cblas.h stand in.
find_package(PkgConfig QUIET)
set(MPILEARN_BLAS_INCLUDE_DIRS "")
set(MPILEARN_BLAS_LIBRARIES "")
if(PKG_CONFIG_FOUND)
  pkg_check_modules(MPILEARN_PC_BLAS QUIET "${MPILEARN_BLAS_PKG}")
  pkg_check_modules(MPILEARN_PC_LAPACKE QUIET lapacke)
endif()
if(MPILEARN_PC_BLAS_FOUND)
  set(MPILEARN_BLAS_INCLUDE_DIRS ${MPILEARN_PC_BLAS_INCLUDE_DIRS})
  # Absolute library paths, so the exported targets carry them to find_package users.
  foreach(lib IN LISTS MPILEARN_PC_BLAS_LIBRARIES)
    find_library(MPILEARN_BLAS_LIB_${lib} NAMES ${lib} HINTS ${MPILEARN_PC_BLAS_LIBRARY_DIRS})
    if(MPILEARN_BLAS_LIB_${lib})
      list(APPEND MPILEARN_BLAS_LIBRARIES "${MPILEARN_BLAS_LIB_${lib}}")
    endif()
  endforeach()
else()
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS QUIET)
  if(BLAS_FOUND)
    set(MPILEARN_BLAS_LIBRARIES ${BLAS_LIBRARIES})
  endif()
endif()
find_path(MPILEARN_CBLAS_INCLUDE_DIR cblas.h HINTS ${MPILEARN_BLAS_INCLUDE_DIRS} PATH_SUFFIXES openblas)
find_path(MPILEARN_LAPACKE_INCLUDE_DIR lapacke.h HINTS ${MPILEARN_PC_LAPACKE_INCLUDE_DIRS} PATH_SUFFIXES openblas)
find_library(MPILEARN_LAPACKE_LIBRARY NAMES lapacke HINTS ${MPILEARN_PC_LAPACKE_LIBRARY_DIRS})
if(NOT MPILEARN_BLAS_LIBRARIES OR NOT MPILEARN_CBLAS_INCLUDE_DIR)
  message(FATAL_ERROR
    "MPILearn: OpenBLAS (CBLAS: cblas.h and libopenblas) not found.\n"
    "  Debian/Ubuntu: apt-get install libopenblas-dev pkg-config\n"
    "  Cluster:       module load openblas; if your site's BLAS has another pkg-config name, pass -DMPILEARN_BLAS_PKG=<name>")
endif()
if(NOT MPILEARN_LAPACKE_LIBRARY OR NOT MPILEARN_LAPACKE_INCLUDE_DIR)
  message(FATAL_ERROR
    "MPILearn: LAPACKE (lapacke.h and liblapacke) not found.\n"
    "  Debian/Ubuntu: apt-get install liblapacke-dev\n"
    "  Cluster:       module load lapack (a LAPACK with the LAPACKE C interface)")
endif()
list(APPEND MPILEARN_BLAS_INCLUDE_DIRS "${MPILEARN_CBLAS_INCLUDE_DIR}" "${MPILEARN_LAPACKE_INCLUDE_DIR}")
list(REMOVE_DUPLICATES MPILEARN_BLAS_INCLUDE_DIRS)
# --- Parallel HDF5 ----------------------------------------------------------------------------
# Found with pkg-config as SwiftPM finds it (Package.swift): MPILEARN_HDF5_PKG, by default
# Debian's hdf5-openmpi, or hdf5-mpich when MPILEARN_MPI_PKG is mpich. The HDF5 library must
# be built for the MPI found above.
if(DEFINED ENV{MPILEARN_HDF5_PKG})
  set(_mpilearn_hdf5_default "$ENV{MPILEARN_HDF5_PKG}")
elseif("$ENV{MPILEARN_MPI_PKG}" STREQUAL "mpich")
  set(_mpilearn_hdf5_default "hdf5-mpich")
else()
  set(_mpilearn_hdf5_default "hdf5-openmpi")
endif()
set(MPILEARN_HDF5_PKG "${_mpilearn_hdf5_default}" CACHE STRING "pkg-config name of the parallel HDF5 library (as MPILEARN_HDF5_PKG for SwiftPM)")
set(MPILEARN_HDF5_INCLUDE_DIRS "")
set(MPILEARN_HDF5_LIBRARIES "")
if(PKG_CONFIG_FOUND)
  pkg_check_modules(MPILEARN_PC_HDF5 QUIET "${MPILEARN_HDF5_PKG}")
endif()
if(MPILEARN_PC_HDF5_FOUND)
  set(MPILEARN_HDF5_INCLUDE_DIRS ${MPILEARN_PC_HDF5_INCLUDE_DIRS})
  # Absolute library paths, so the exported targets carry them to find_package users.
  foreach(lib IN LISTS MPILEARN_PC_HDF5_LIBRARIES)
    find_library(MPILEARN_HDF5_LIB_${lib} NAMES ${lib} HINTS ${MPILEARN_PC_HDF5_LIBRARY_DIRS} NO_DEFAULT_PATH)
    if(NOT MPILEARN_HDF5_LIB_${lib})
      find_library(MPILEARN_HDF5_LIB_${lib} NAMES ${lib})
    endif()
    if(MPILEARN_HDF5_LIB_${lib})
      list(APPEND MPILEARN_HDF5_LIBRARIES "${MPILEARN_HDF5_LIB_${lib}}")
    endif()
  endforeach()
endif()
find_path(MPILEARN_HDF5_INCLUDE_DIR hdf5.h HINTS ${MPILEARN_HDF5_INCLUDE_DIRS} NO_DEFAULT_PATH)
if(NOT MPILEARN_PC_HDF5_FOUND OR NOT MPILEARN_HDF5_LIBRARIES OR NOT MPILEARN_HDF5_INCLUDE_DIR)
  message(FATAL_ERROR
    "MPILearn: parallel HDF5 not found by pkg-config as '${MPILEARN_HDF5_PKG}'.\n"
    "  Debian/Ubuntu: apt-get install libhdf5-openmpi-dev pkg-config   (MPICH: libhdf5-mpich-dev)\n"
    "  Cluster:       module load hdf5 (a parallel build), and pass -DMPILEARN_HDF5_PKG=<its .pc name>")
endif()
message(STATUS "MPILearn: HDF5 (${MPILEARN_HDF5_PKG}) ${MPILEARN_PC_HDF5_VERSION}: ${MPILEARN_HDF5_LIBRARIES}")
message(STATUS "MPILearn: MPI ${MPI_C_VERSION}: ${MPI_C_LIBRARIES}")
message(STATUS "MPILearn: BLAS ${MPILEARN_BLAS_LIBRARIES}, LAPACKE ${MPILEARN_LAPACKE_LIBRARY}")

# --- swift-argument-parser ------------------------------------------------------------------
# In order: a source tree the user names, an installed copy (find_package), or a clone of
# tag 1.8.2 (the version Package.resolved pins) from MPILEARN_ARGUMENT_PARSER_GIT. Offline
# machines keep a mirror; the default uses the local mirror when it exists.
set(MPILEARN_ARGUMENT_PARSER_SOURCE_DIR "" CACHE PATH "A swift-argument-parser source tree to build instead of fetching one")
if(EXISTS "/opt/swift-packages/apple/swift-argument-parser.git")
  set(_mpilearn_ap_default "file:///opt/swift-packages/apple/swift-argument-parser.git")
else()
  set(_mpilearn_ap_default "https://github.com/apple/swift-argument-parser.git")
endif()
set(MPILEARN_ARGUMENT_PARSER_GIT "${_mpilearn_ap_default}" CACHE STRING "Git repository of swift-argument-parser")
set(MPILEARN_ARGUMENT_PARSER_TAG "1.8.2" CACHE STRING "Tag of swift-argument-parser to build")

# Only the CLI uses the parser: build it without its examples and tests.
set(BUILD_EXAMPLES OFF)
set(BUILD_TESTING OFF)
if(MPILEARN_ARGUMENT_PARSER_SOURCE_DIR)
  if(NOT EXISTS "${MPILEARN_ARGUMENT_PARSER_SOURCE_DIR}/CMakeLists.txt")
    message(FATAL_ERROR "MPILearn: MPILEARN_ARGUMENT_PARSER_SOURCE_DIR=${MPILEARN_ARGUMENT_PARSER_SOURCE_DIR} has no CMakeLists.txt (a swift-argument-parser checkout is expected)")
  endif()
  add_subdirectory("${MPILEARN_ARGUMENT_PARSER_SOURCE_DIR}" "${CMAKE_BINARY_DIR}/_deps/argumentparser-build")
else()
  find_package(ArgumentParser CONFIG QUIET)
  if(NOT ArgumentParser_FOUND)
    include(FetchContent)
    FetchContent_Declare(ArgumentParser
      GIT_REPOSITORY "${MPILEARN_ARGUMENT_PARSER_GIT}"
      GIT_TAG "${MPILEARN_ARGUMENT_PARSER_TAG}"
      GIT_SHALLOW TRUE)
    FetchContent_MakeAvailable(ArgumentParser)
  endif()
endif()
if(NOT TARGET ArgumentParser)
  message(FATAL_ERROR "MPILearn: swift-argument-parser not available; pass -DMPILEARN_ARGUMENT_PARSER_SOURCE_DIR=<checkout> or -DMPILEARN_ARGUMENT_PARSER_GIT=<url>")
endif()
set(BUILD_TESTING ${MPILEARN_BUILD_TESTS})
# Third-party code: its deprecation warnings are not ours to fix.
foreach(t ArgumentParser ArgumentParserToolInfo)
  if(TARGET ${t} AND NOT ArgumentParser_FOUND)
    target_compile_options(${t} PRIVATE -suppress-warnings)
  endif()
endforeach()

# --- Yams -------------------------------------------------------------------------------------
# The MPILearn library imports Yams (parameter grid files in YAML), so unlike the parser it is
# part of MPILearn's public link interface and of the installed package. Found as
# swift-argument-parser is, in order: a source tree the user names, an installed copy
# (find_package(Yams)), or a clone of tag 5.0.1 (what SwiftPM resolves for `from: "5.0.1"` here)
# from MPILEARN_YAMS_GIT. Offline machines keep a mirror; the default uses the local mirror
# when it exists.
set(MPILEARN_YAMS_SOURCE_DIR "" CACHE PATH "A Yams source tree to build instead of fetching one")
if(EXISTS "/opt/swift-packages/jpsim/Yams.git")
  set(_mpilearn_yams_default "file:///opt/swift-packages/jpsim/Yams.git")
else()
  set(_mpilearn_yams_default "https://github.com/jpsim/Yams.git")
endif()
set(MPILEARN_YAMS_GIT "${_mpilearn_yams_default}" CACHE STRING "Git repository of Yams")
set(MPILEARN_YAMS_TAG "5.0.1" CACHE STRING "Tag of Yams to build")

# Yams' own tests need XCTest: build only the library.
set(BUILD_TESTING OFF)
set(MPILEARN_YAMS_IMPORTED OFF)
if(MPILEARN_YAMS_SOURCE_DIR)
  if(NOT EXISTS "${MPILEARN_YAMS_SOURCE_DIR}/CMakeLists.txt")
    message(FATAL_ERROR "MPILearn: MPILEARN_YAMS_SOURCE_DIR=${MPILEARN_YAMS_SOURCE_DIR} has no CMakeLists.txt (a Yams checkout is expected)")
  endif()
  add_subdirectory("${MPILEARN_YAMS_SOURCE_DIR}" "${CMAKE_BINARY_DIR}/_deps/yams-build")
else()
  find_package(Yams CONFIG QUIET)
  if(Yams_FOUND)
    set(MPILEARN_YAMS_IMPORTED ON)
  else()
    include(FetchContent)
    FetchContent_Declare(Yams
      GIT_REPOSITORY "${MPILEARN_YAMS_GIT}"
      GIT_TAG "${MPILEARN_YAMS_TAG}"
      GIT_SHALLOW TRUE)
    FetchContent_MakeAvailable(Yams)
  endif()
endif()
if(NOT TARGET Yams)
  message(FATAL_ERROR "MPILearn: Yams not available; pass -DMPILEARN_YAMS_SOURCE_DIR=<checkout> or -DMPILEARN_YAMS_GIT=<url>")
endif()
set(BUILD_TESTING ${MPILEARN_BUILD_TESTS})

if(NOT MPILEARN_YAMS_IMPORTED)
  # Third-party code: its warnings are not ours to fix.
  target_compile_options(Yams PRIVATE -suppress-warnings)
  # Yams writes its module to its own build folder and names that folder as a plain path in
  # its include directories, which an exported target may not carry. MPILearn's Swift compile
  # sees the build folder; the installed package sees the folder the Swift modules go to.
  get_target_property(_mpilearn_yams_module_dir Yams Swift_MODULE_DIRECTORY)
  set_target_properties(Yams PROPERTIES INTERFACE_INCLUDE_DIRECTORIES
    "$<BUILD_INTERFACE:${_mpilearn_yams_module_dir}>;$<INSTALL_INTERFACE:${MPILEARN_INSTALL_SWIFTMODULEDIR}>")
  # MPILearn links Yams publicly, so the exported MPILearn::MPILearn needs MPILearn::Yams: its
  # library goes next to libMPILearn (found by the same $ORIGIN/../lib run path) and its module
  # next to MPILearn's. (Yams' own install rules also copy it to lib/swift/<os>/.)
  install(TARGETS Yams
    EXPORT MPILearnTargets
    ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
  install(FILES
    "${_mpilearn_yams_module_dir}/Yams.swiftmodule"
    "${_mpilearn_yams_module_dir}/Yams.swiftdoc"
    DESTINATION "${MPILEARN_INSTALL_SWIFTMODULEDIR}")
  # A static Yams (BUILD_SHARED_LIBS=OFF) leaves its C part, CYaml, to whoever links it. Its
  # headers are Yams' implementation detail (@_implementationOnly), so only the archive ships.
  get_target_property(_mpilearn_yams_type Yams TYPE)
  if(_mpilearn_yams_type STREQUAL "STATIC_LIBRARY" AND TARGET CYaml)
    foreach(prop INTERFACE_INCLUDE_DIRECTORIES INTERFACE_COMPILE_OPTIONS INTERFACE_COMPILE_DEFINITIONS)
      get_target_property(_mpilearn_values CYaml ${prop})
      if(_mpilearn_values)
        set(_mpilearn_wrapped "")
        foreach(v IN LISTS _mpilearn_values)
          list(APPEND _mpilearn_wrapped "$<BUILD_INTERFACE:${v}>")
        endforeach()
        set_property(TARGET CYaml PROPERTY ${prop} "${_mpilearn_wrapped}")
      endif()
    endforeach()
    install(TARGETS CYaml EXPORT MPILearnTargets ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
  endif()
endif()
if(MPILEARN_YAMS_IMPORTED)
  message(STATUS "MPILearn: Yams from ${Yams_DIR}")
elseif(MPILEARN_YAMS_SOURCE_DIR)
  message(STATUS "MPILearn: Yams from ${MPILEARN_YAMS_SOURCE_DIR}")
else()
  message(STATUS "MPILearn: Yams ${MPILEARN_YAMS_TAG} from ${MPILEARN_YAMS_GIT}")
endif()

# --- ZIPFoundation ----------------------------------------------------------------------------
# MPILearn reads and writes scipy's sparse .npz files (zip archives) with ZIPFoundation. As for
# Yams, whoever imports MPILearn loads ZIPFoundation's module too (and through it CZlib's module
# map), so both ship with the installed package. ZIPFoundation has no CMake build of its own, so its sources are taken, in order, from a tree
# the user names or a clone of tag 0.9.20 (what SwiftPM resolves for `from: "0.9.20"` here)
# from MPILEARN_ZIPFOUNDATION_GIT, and built here as its Package.swift builds them: the Swift
# module plus, off Apple platforms, CZlib (its module map over zlib.h, linked to zlib).
set(MPILEARN_ZIPFOUNDATION_SOURCE_DIR "" CACHE PATH "A ZIPFoundation source tree to build instead of fetching one")
if(EXISTS "/opt/swift-packages/weichsel/ZIPFoundation.git")
  set(_mpilearn_zip_default "file:///opt/swift-packages/weichsel/ZIPFoundation.git")
else()
  set(_mpilearn_zip_default "https://github.com/weichsel/ZIPFoundation.git")
endif()
set(MPILEARN_ZIPFOUNDATION_GIT "${_mpilearn_zip_default}" CACHE STRING "Git repository of ZIPFoundation")
set(MPILEARN_ZIPFOUNDATION_TAG "0.9.20" CACHE STRING "Tag of ZIPFoundation to build")
if(MPILEARN_ZIPFOUNDATION_SOURCE_DIR)
  set(_mpilearn_zip_dir "${MPILEARN_ZIPFOUNDATION_SOURCE_DIR}")
else()
  include(FetchContent)
  FetchContent_Declare(ZIPFoundation
    GIT_REPOSITORY "${MPILEARN_ZIPFOUNDATION_GIT}"
    GIT_TAG "${MPILEARN_ZIPFOUNDATION_TAG}"
    GIT_SHALLOW TRUE)
  # No CMakeLists.txt in the tree: MakeAvailable only fetches it.
  FetchContent_MakeAvailable(ZIPFoundation)
  set(_mpilearn_zip_dir "${zipfoundation_SOURCE_DIR}")
endif()
file(GLOB _mpilearn_zip_sources "${_mpilearn_zip_dir}/Sources/ZIPFoundation/*.swift")
if(NOT _mpilearn_zip_sources)
  message(FATAL_ERROR "MPILearn: no ZIPFoundation sources in ${_mpilearn_zip_dir}/Sources/ZIPFoundation; pass -DMPILEARN_ZIPFOUNDATION_SOURCE_DIR=<checkout> or -DMPILEARN_ZIPFOUNDATION_GIT=<url>")
endif()
# Static and position-independent: its code becomes part of libMPILearn.
add_library(ZIPFoundation STATIC ${_mpilearn_zip_sources})
set_target_properties(ZIPFoundation PROPERTIES POSITION_INDEPENDENT_CODE ON Swift_MODULE_NAME ZIPFoundation)
# Third-party code: its warnings are not ours to fix.
target_compile_options(ZIPFoundation PRIVATE -suppress-warnings)
if(NOT APPLE)
  find_package(ZLIB)
  if(NOT ZLIB_FOUND)
    message(FATAL_ERROR
      "MPILearn: zlib (zlib.h and libz, for ZIPFoundation's deflate) not found.\n"
      "  Debian/Ubuntu: apt-get install zlib1g-dev")
  endif()
  target_compile_options(ZIPFoundation PRIVATE "SHELL:-Xcc -D_GNU_SOURCE=1" "SHELL:-Xcc -I${ZLIB_INCLUDE_DIRS}")
  # Loading ZIPFoundation's module loads CZlib's too.
  target_include_directories(ZIPFoundation PUBLIC
    "$<BUILD_INTERFACE:${_mpilearn_zip_dir}/Sources/CZLib>"
    "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/mpilearn/CZlib>")
  install(FILES "${_mpilearn_zip_dir}/Sources/CZLib/module.modulemap" "${_mpilearn_zip_dir}/Sources/CZLib/shim.h"
    DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/mpilearn/CZlib")
  target_link_libraries(ZIPFoundation PRIVATE ${ZLIB_LIBRARIES})
endif()
# Part of libMPILearn's link; exported so a static MPILearn (BUILD_SHARED_LIBS=OFF) passes it on.
install(TARGETS ZIPFoundation EXPORT MPILearnTargets ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(FILES "${CMAKE_Swift_MODULE_DIRECTORY}/ZIPFoundation.swiftmodule" "${CMAKE_Swift_MODULE_DIRECTORY}/ZIPFoundation.swiftdoc"
  DESTINATION "${MPILEARN_INSTALL_SWIFTMODULEDIR}")
message(STATUS "MPILearn: ZIPFoundation ${MPILEARN_ZIPFOUNDATION_TAG} from ${_mpilearn_zip_dir}")

# --- helpers ----------------------------------------------------------------------------------
# Installs a Swift library target: its binary (exported) and its .swiftmodule/.swiftdoc, in
# the folder the exported targets add to the import path.
function(mpilearn_install_swift_library target)
  install(TARGETS ${target}
    EXPORT MPILearnTargets
    ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
  install(FILES
    "${CMAKE_Swift_MODULE_DIRECTORY}/${target}.swiftmodule"
    "${CMAKE_Swift_MODULE_DIRECTORY}/${target}.swiftdoc"
    DESTINATION "${MPILEARN_INSTALL_SWIFTMODULEDIR}")
  target_include_directories(${target} INTERFACE
    "$<BUILD_INTERFACE:${CMAKE_Swift_MODULE_DIRECTORY}>"
    "$<INSTALL_INTERFACE:${MPILEARN_INSTALL_SWIFTMODULEDIR}>")
endfunction()

# Lists every .swift file under `dir` (recursively) into `out`. CONFIGURE_DEPENDS re-globs at
# build time, so a file added under Sources/<Module>/<Area>/ is built without re-running cmake.
function(mpilearn_swift_sources out dir)
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS "${dir}/*.swift")
  list(SORT sources)
  set(${out} ${sources} PARENT_SCOPE)
endfunction()
