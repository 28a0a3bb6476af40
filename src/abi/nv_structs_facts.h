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
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", function)                    \
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", status)                      \
  NV_STRUCT(NVOS56_PARAMETERS, "NVOS56_PARAMETERS")                             \
  NV_FIELD(NVOS56_PARAMETERS, "NVOS56_PARAMETERS", status)                      \
  NV_STRUCT(NVOS57_PARAMETERS, "NVOS57_PARAMETERS")                             \
  NV_FIELD(NVOS57_PARAMETERS, "NVOS57_PARAMETERS", status)                      \
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
  NV_FIELD(UVM_MM_INITIALIZE_PARAMS, "UVM_MM_INITIALIZE_PARAMS", rmStatus) \
  NV_STRUCT(NV0000_CTRL_GPU_GET_ATTACHED_IDS_PARAMS, "NV0000_CTRL_GPU_GET_ATTACHED_IDS_PARAMS") \
  NV_STRUCT(NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS, "NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS") \
  NV_STRUCT(NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS, "NV0080_CTRL_GPU_GET_CLASSLIST_V2_PARAMS") \
  NV_STRUCT(NV0080_CTRL_GPU_GET_NUM_SUBDEVICES_PARAMS, "NV0080_CTRL_GPU_GET_NUM_SUBDEVICES_PARAMS") \
  NV_STRUCT(NV2080_CTRL_GPU_GET_INFO_V2_PARAMS, "NV2080_CTRL_GPU_GET_INFO_V2_PARAMS") \
  NV_STRUCT(NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS, "NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS") \
  NV_STRUCT(NV2080_CTRL_GPU_GET_GID_INFO_PARAMS, "NV2080_CTRL_GPU_GET_GID_INFO_PARAMS") \
  NV_STRUCT(NV2080_CTRL_GR_GET_INFO_PARAMS, "NV2080_CTRL_GR_GET_INFO_PARAMS") \
  NV_FIELD(NV2080_CTRL_GR_GET_INFO_PARAMS, "NV2080_CTRL_GR_GET_INFO_PARAMS", grInfoListSize) \
  NV_FIELD(NV2080_CTRL_GR_GET_INFO_PARAMS, "NV2080_CTRL_GR_GET_INFO_PARAMS", grInfoList) \
  NV_STRUCT(NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS, "NVC36F_CTRL_CMD_GPFIFO_GET_WORK_SUBMIT_TOKEN_PARAMS") \
  NV_STRUCT(NVA06C_CTRL_GPFIFO_SCHEDULE_PARAMS, "NVA06C_CTRL_GPFIFO_SCHEDULE_PARAMS") \
  NV_STRUCT(UVM_CREATE_RANGE_GROUP_PARAMS, "UVM_CREATE_RANGE_GROUP_PARAMS") \
  NV_STRUCT(UVM_REGISTER_GPU_VASPACE_PARAMS, "UVM_REGISTER_GPU_VASPACE_PARAMS") \
  NV_FIELD(UVM_REGISTER_GPU_VASPACE_PARAMS, "UVM_REGISTER_GPU_VASPACE_PARAMS", rmCtrlFd) \
  NV_STRUCT(UVM_MAP_EXTERNAL_ALLOCATION_PARAMS, "UVM_MAP_EXTERNAL_ALLOCATION_PARAMS") \
  NV_FIELD(UVM_MAP_EXTERNAL_ALLOCATION_PARAMS, "UVM_MAP_EXTERNAL_ALLOCATION_PARAMS", rmCtrlFd) \
  NV_STRUCT(UVM_FREE_PARAMS, "UVM_FREE_PARAMS") \
  NV_STRUCT(UVM_REGISTER_GPU_PARAMS, "UVM_REGISTER_GPU_PARAMS") \
  NV_FIELD(UVM_REGISTER_GPU_PARAMS, "UVM_REGISTER_GPU_PARAMS", rmCtrlFd) \
  NV_STRUCT(UVM_UNREGISTER_GPU_PARAMS, "UVM_UNREGISTER_GPU_PARAMS") \
  NV_STRUCT(UVM_PAGEABLE_MEM_ACCESS_PARAMS, "UVM_PAGEABLE_MEM_ACCESS_PARAMS") \
  NV_STRUCT(UVM_ALLOC_SEMAPHORE_POOL_PARAMS, "UVM_ALLOC_SEMAPHORE_POOL_PARAMS") \
  NV_STRUCT(NVOS32_PARAMETERS, "NVOS32_PARAMETERS") \
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", total) \
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", free) \
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", data.AllocSize.hMemory) \
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", data.AllocSize.flags) \
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", data.AllocSize.size) \
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", data.AllocSize.alignment) \
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", data.AllocSize.offset) \
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", data.AllocSize.limit) \
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", data.AllocSize.address) \
  NV_FIELD(NVOS32_PARAMETERS, "NVOS32_PARAMETERS", data.AllocSize.numaNode) \
  NV_STRUCT(NV0005_ALLOC_PARAMETERS, "NV0005_ALLOC_PARAMETERS") \
  NV_STRUCT(NV0080_ALLOC_PARAMETERS, "NV0080_ALLOC_PARAMETERS") \
  NV_FIELD(NV0080_ALLOC_PARAMETERS, "NV0080_ALLOC_PARAMETERS", deviceId) \
  NV_FIELD(NV0080_ALLOC_PARAMETERS, "NV0080_ALLOC_PARAMETERS", vaSpaceSize) \
  NV_FIELD(NV0080_ALLOC_PARAMETERS, "NV0080_ALLOC_PARAMETERS", vaMode) \
  NV_STRUCT(NV2080_ALLOC_PARAMETERS, "NV2080_ALLOC_PARAMETERS") \
  NV_STRUCT(NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS, "NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS") \
  NV_FIELD(NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS, "NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS", excludedGpuIds) \
  NV_STRUCT(NV2080_CTRL_FB_INFO, "NV2080_CTRL_FB_INFO") \
  NV_STRUCT(NV2080_CTRL_FB_GET_INFO_V2_PARAMS, "NV2080_CTRL_FB_GET_INFO_V2_PARAMS") \
  NV_FIELD(NV2080_CTRL_FB_GET_INFO_V2_PARAMS, "NV2080_CTRL_FB_GET_INFO_V2_PARAMS", fbInfoList) \
  NV_STRUCT(NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS, "NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS") \
  NV_FIELD(NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS, "NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS", pciSubSystemId) \
  NV_STRUCT(NV2080_CTRL_GPU_GET_ENGINES_V2_PARAMS, "NV2080_CTRL_GPU_GET_ENGINES_V2_PARAMS") \
  NV_STRUCT(NV2080_CTRL_PERF_GET_CURRENT_PSTATE_PARAMS, "NV2080_CTRL_PERF_GET_CURRENT_PSTATE_PARAMS") \
  NV_FIELD(UVM_REGISTER_GPU_PARAMS, "UVM_REGISTER_GPU_PARAMS", numaNodeId) \
  NV_FIELD(UVM_REGISTER_GPU_PARAMS, "UVM_REGISTER_GPU_PARAMS", rmStatus) \
  NV_FIELD(nv_ioctl_rm_api_version_t, "nv_ioctl_rm_api_version_t", cmd) \
  NV_FIELD(nv_ioctl_card_info_t, "nv_ioctl_card_info_t", fb_size) \
  NV_STRUCT(nv_ioctl_xfer_t, "nv_ioctl_xfer_t") \
  NV_STRUCT(RS_SHARE_POLICY, "RS_SHARE_POLICY") \
  NV_FIELD(RS_SHARE_POLICY, "RS_SHARE_POLICY", target) \
  NV_FIELD(RS_SHARE_POLICY, "RS_SHARE_POLICY", accessMask) \
  NV_FIELD(RS_SHARE_POLICY, "RS_SHARE_POLICY", type) \
  NV_FIELD(RS_SHARE_POLICY, "RS_SHARE_POLICY", action) \
  NV_FIELD(NVOS57_PARAMETERS, "NVOS57_PARAMETERS", sharePolicy)
