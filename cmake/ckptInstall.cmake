include(CMakePackageConfigHelpers)
install(DIRECTORY include/ckpt DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS ckpt EXPORT ckptTargets)
install(EXPORT ckptTargets NAMESPACE ckpt:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ckpt)
configure_package_config_file(cmake/ckptConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ckptConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ckpt)
# Header-only: the version does not depend on the architecture.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ckptConfigVersion.cmake
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES
  ${PROJECT_BINARY_DIR}/ckptConfig.cmake
  ${PROJECT_BINARY_DIR}/ckptConfigVersion.cmake
  cmake/FindxxHash.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ckpt)
configure_file(cmake/ckpt.pc.in ${PROJECT_BINARY_DIR}/ckpt.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/ckpt.pc DESTINATION ${CMAKE_INSTALL_DATADIR}/pkgconfig)
if(CKPT_S3_ENABLED)
  install(TARGETS ckpt_s3 EXPORT ckptS3Targets)
  install(EXPORT ckptS3Targets NAMESPACE ckpt:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ckpt)
endif()
if(CKPT_METRICS_ENABLED)
  install(TARGETS ckpt_metrics EXPORT ckptMetricsTargets)
  install(EXPORT ckptMetricsTargets NAMESPACE ckpt:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ckpt)
endif()
if(CKPT_ROCKSDB_ENABLED)
  install(TARGETS ckpt_rocksdb EXPORT ckptRocksDBTargets)
  install(EXPORT ckptRocksDBTargets NAMESPACE ckpt:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ckpt)
endif()
if(CKPT_ETCD_ENABLED)
  install(TARGETS ckpt_etcd EXPORT ckptEtcdTargets)
  install(EXPORT ckptEtcdTargets NAMESPACE ckpt:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ckpt)
endif()
