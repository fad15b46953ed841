include(CMakePackageConfigHelpers)
# Header-only, so the package is architecture-independent data: its CMake
# config goes to share/cmake/ckpt (as the pkg-config file to share/pkgconfig).
set(CKPT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_DATADIR}/cmake/ckpt)
# The headers of an optional target are installed only with that target: a
# user cannot include what the package cannot link.
set(_ckpt_header_excludes)
if(NOT CKPT_S3_ENABLED)
  list(APPEND _ckpt_header_excludes PATTERN "s3" EXCLUDE)
endif()
if(NOT CKPT_METRICS_ENABLED)
  list(APPEND _ckpt_header_excludes PATTERN "metrics" EXCLUDE)
endif()
if(NOT CKPT_ROCKSDB_ENABLED)
  list(APPEND _ckpt_header_excludes PATTERN "rocksdb" EXCLUDE)
endif()
if(NOT CKPT_ETCD_ENABLED)
  list(APPEND _ckpt_header_excludes PATTERN "etcd" EXCLUDE PATTERN "cluster" EXCLUDE)
endif()
if(NOT CKPT_S3_ENABLED AND NOT CKPT_ETCD_ENABLED)
  list(APPEND _ckpt_header_excludes PATTERN "net" EXCLUDE)  # their shared libcurl client
endif()
install(DIRECTORY include/ckpt DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} ${_ckpt_header_excludes})
install(TARGETS ckpt EXPORT ckptTargets)
install(EXPORT ckptTargets NAMESPACE ckpt:: DESTINATION ${CKPT_INSTALL_CMAKEDIR})
configure_package_config_file(cmake/ckptConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ckptConfig.cmake
  INSTALL_DESTINATION ${CKPT_INSTALL_CMAKEDIR})
# Header-only: the version does not depend on the architecture.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ckptConfigVersion.cmake
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES
  ${PROJECT_BINARY_DIR}/ckptConfig.cmake
  ${PROJECT_BINARY_DIR}/ckptConfigVersion.cmake
  cmake/FindxxHash.cmake
  DESTINATION ${CKPT_INSTALL_CMAKEDIR})
configure_file(cmake/ckpt.pc.in ${PROJECT_BINARY_DIR}/ckpt.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ckpt.pc DESTINATION ${CMAKE_INSTALL_DATADIR}/pkgconfig)
if(CKPT_S3_ENABLED)
  install(TARGETS ckpt_s3 EXPORT ckptS3Targets)
  install(EXPORT ckptS3Targets NAMESPACE ckpt:: DESTINATION ${CKPT_INSTALL_CMAKEDIR})
endif()
if(CKPT_METRICS_ENABLED)
  install(TARGETS ckpt_metrics EXPORT ckptMetricsTargets)
  install(EXPORT ckptMetricsTargets NAMESPACE ckpt:: DESTINATION ${CKPT_INSTALL_CMAKEDIR})
endif()
if(CKPT_ROCKSDB_ENABLED)
  install(TARGETS ckpt_rocksdb EXPORT ckptRocksDBTargets)
  install(EXPORT ckptRocksDBTargets NAMESPACE ckpt:: DESTINATION ${CKPT_INSTALL_CMAKEDIR})
endif()
if(CKPT_ETCD_ENABLED)
  install(TARGETS ckpt_etcd EXPORT ckptEtcdTargets)
  install(EXPORT ckptEtcdTargets NAMESPACE ckpt:: DESTINATION ${CKPT_INSTALL_CMAKEDIR})
endif()
