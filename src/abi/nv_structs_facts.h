// Every struct and field of nv_structs.h, for abi_facts_test to compare with the
// facts of each supported driver version. Add a line here for every field added
// to nv_structs.h.
//
// NV_STRUCT(ours, "DRIVER_NAME") and NV_FIELD(ours, "DRIVER_NAME", field).
#define NVGATE_FOR_EACH_NV_STRUCT(NV_STRUCT, NV_FIELD)                          \
  NV_STRUCT(NVOS00_PARAMETERS, "NVOS00_PARAMETERS")                             \
  NV_FIELD(NVOS00_PARAMETERS, "NVOS00_PARAMETERS", hRoot)                       \
  NV_FIELD(NVOS00_PARAMETERS, "NVOS00_PARAMETERS", hObjectOld)                  \
  NV_FIELD(NVOS00_PARAMETERS, "NVOS00_PARAMETERS", status)                      \
  NV_STRUCT(NVOS02_PARAMETERS, "NVOS02_PARAMETERS")                             \
  NV_FIELD(NVOS02_PARAMETERS, "NVOS02_PARAMETERS", hRoot)                       \
  NV_FIELD(NVOS02_PARAMETERS, "NVOS02_PARAMETERS", hClass)                      \
  NV_FIELD(NVOS02_PARAMETERS, "NVOS02_PARAMETERS", flags)                       \
  NV_FIELD(NVOS02_PARAMETERS, "NVOS02_PARAMETERS", pMemory)                     \
  NV_FIELD(NVOS02_PARAMETERS, "NVOS02_PARAMETERS", limit)                       \
  NV_FIELD(NVOS02_PARAMETERS, "NVOS02_PARAMETERS", status)                      \
  NV_STRUCT(nv_ioctl_nvos02_parameters_with_fd, "nv_ioctl_nvos02_parameters_with_fd") \
  NV_FIELD(nv_ioctl_nvos02_parameters_with_fd, "nv_ioctl_nvos02_parameters_with_fd", fd) \
  NV_STRUCT(NVOS21_PARAMETERS, "NVOS21_PARAMETERS")                             \
  NV_FIELD(NVOS21_PARAMETERS, "NVOS21_PARAMETERS", hClass)                      \
  NV_FIELD(NVOS21_PARAMETERS, "NVOS21_PARAMETERS", pAllocParms)                 \
  NV_FIELD(NVOS21_PARAMETERS, "NVOS21_PARAMETERS", paramsSize)                  \
  NV_FIELD(NVOS21_PARAMETERS, "NVOS21_PARAMETERS", status)                      \
  NV_STRUCT(NVOS64_PARAMETERS, "NVOS64_PARAMETERS")                             \
  NV_FIELD(NVOS64_PARAMETERS, "NVOS64_PARAMETERS", hClass)                      \
  NV_FIELD(NVOS64_PARAMETERS, "NVOS64_PARAMETERS", pAllocParms)                 \
  NV_FIELD(NVOS64_PARAMETERS, "NVOS64_PARAMETERS", pRightsRequested)            \
  NV_FIELD(NVOS64_PARAMETERS, "NVOS64_PARAMETERS", paramsSize)                  \
  NV_FIELD(NVOS64_PARAMETERS, "NVOS64_PARAMETERS", flags)                       \
  NV_FIELD(NVOS64_PARAMETERS, "NVOS64_PARAMETERS", status)                      \
  NV_STRUCT(NVOS54_PARAMETERS, "NVOS54_PARAMETERS")                             \
  NV_FIELD(NVOS54_PARAMETERS, "NVOS54_PARAMETERS", hClient)                     \
  NV_FIELD(NVOS54_PARAMETERS, "NVOS54_PARAMETERS", cmd)                         \
  NV_FIELD(NVOS54_PARAMETERS, "NVOS54_PARAMETERS", flags)                       \
  NV_FIELD(NVOS54_PARAMETERS, "NVOS54_PARAMETERS", params)                      \
  NV_FIELD(NVOS54_PARAMETERS, "NVOS54_PARAMETERS", paramsSize)                  \
  NV_FIELD(NVOS54_PARAMETERS, "NVOS54_PARAMETERS", status)                      \
  NV_STRUCT(NVOS33_PARAMETERS, "NVOS33_PARAMETERS")                             \
  NV_FIELD(NVOS33_PARAMETERS, "NVOS33_PARAMETERS", offset)                      \
  NV_FIELD(NVOS33_PARAMETERS, "NVOS33_PARAMETERS", length)                      \
  NV_FIELD(NVOS33_PARAMETERS, "NVOS33_PARAMETERS", pLinearAddress)              \
  NV_FIELD(NVOS33_PARAMETERS, "NVOS33_PARAMETERS", status)                      \
  NV_FIELD(NVOS33_PARAMETERS, "NVOS33_PARAMETERS", flags)                       \
  NV_STRUCT(nv_ioctl_nvos33_parameters_with_fd, "nv_ioctl_nvos33_parameters_with_fd") \
  NV_FIELD(nv_ioctl_nvos33_parameters_with_fd, "nv_ioctl_nvos33_parameters_with_fd", fd) \
  NV_STRUCT(NVOS34_PARAMETERS, "NVOS34_PARAMETERS")                             \
  NV_FIELD(NVOS34_PARAMETERS, "NVOS34_PARAMETERS", pLinearAddress)              \
  NV_FIELD(NVOS34_PARAMETERS, "NVOS34_PARAMETERS", status)                      \
  NV_STRUCT(NVOS55_PARAMETERS, "NVOS55_PARAMETERS")                             \
  NV_FIELD(NVOS55_PARAMETERS, "NVOS55_PARAMETERS", hClientSrc)                  \
  NV_FIELD(NVOS55_PARAMETERS, "NVOS55_PARAMETERS", status)                      \
  NV_FIELD(NVOS32_HEAD, "NVOS32_PARAMETERS", function)                          \
  NV_STRUCT(nv_ioctl_rm_api_version_t, "nv_ioctl_rm_api_version_t")             \
  NV_FIELD(nv_ioctl_rm_api_version_t, "nv_ioctl_rm_api_version_t", reply)       \
  NV_FIELD(nv_ioctl_rm_api_version_t, "nv_ioctl_rm_api_version_t", versionString) \
  NV_STRUCT(nv_ioctl_register_fd_t, "nv_ioctl_register_fd_t")                   \
  NV_STRUCT(nv_ioctl_alloc_os_event_t, "nv_ioctl_alloc_os_event_t")             \
  NV_FIELD(nv_ioctl_alloc_os_event_t, "nv_ioctl_alloc_os_event_t", fd)          \
  NV_FIELD(nv_ioctl_alloc_os_event_t, "nv_ioctl_alloc_os_event_t", Status)      \
  NV_STRUCT(nv_ioctl_sys_params_t, "nv_ioctl_sys_params_t")                     \
  NV_STRUCT(nv_ioctl_wait_open_complete_t, "nv_ioctl_wait_open_complete_t")    \
  NV_STRUCT(nv_ioctl_card_info_t, "nv_ioctl_card_info_t")                       \
  NV_FIELD(nv_ioctl_card_info_t, "nv_ioctl_card_info_t", pci_info)              \
  NV_FIELD(nv_ioctl_card_info_t, "nv_ioctl_card_info_t", gpu_id)                \
  NV_FIELD(nv_ioctl_card_info_t, "nv_ioctl_card_info_t", reg_address)           \
  NV_FIELD(nv_ioctl_card_info_t, "nv_ioctl_card_info_t", minor_number)          \
  NV_FIELD(nv_ioctl_card_info_t, "nv_ioctl_card_info_t", dev_name)              \
  NV_STRUCT(UVM_INITIALIZE_PARAMS, "UVM_INITIALIZE_PARAMS")                     \
  NV_FIELD(UVM_INITIALIZE_PARAMS, "UVM_INITIALIZE_PARAMS", rmStatus)            \
  NV_STRUCT(UVM_MM_INITIALIZE_PARAMS, "UVM_MM_INITIALIZE_PARAMS")               \
  NV_FIELD(UVM_MM_INITIALIZE_PARAMS, "UVM_MM_INITIALIZE_PARAMS", rmStatus)
