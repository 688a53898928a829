# hv.cmake — the hypervisor adapter library, included by agent/CMakeLists.txt.
# drover_hv = the contract (hv.h) with both implementations: libvirt and the fake.
find_package(LibXml2 REQUIRED)
file(GLOB DROVER_HV_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/hv_*.c)
add_library(drover_hv STATIC ${DROVER_HV_SOURCES})
target_include_directories(drover_hv PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(drover_hv PUBLIC PkgConfig::LIBVIRT Threads::Threads LibXml2::LibXml2)
