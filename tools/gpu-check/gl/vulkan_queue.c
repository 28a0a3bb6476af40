/* Vulkan work on the GPU, headless: an instance, the first physical device, a
 * logical device with one queue (a graphics queue where the device has one,
 * else a compute queue), two host-visible buffers, one command buffer that
 * fills the first and copies it into the second, submitted and waited on with
 * a fence; the copy is checked on the host. One RESULT line.
 *
 * Built by scripts/gpu-kit.sh against Debian's Vulkan headers (libvulkan-dev,
 * fetched for the build only) without prototypes: libvulkan.so.1 (the kit's
 * loader) is dlopen'ed and every entry point looked up, so the program needs
 * only glibc. The loader finds the driver through VK_DRIVER_FILES. */
#define VK_NO_PROTOTYPES
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <vulkan/vulkan.h>

#define PROGRAM "vulkan-queue"
#define BUFFER_BYTES (1u << 20)
#define FILL_WORD 0x6e766761u /* "nvga" */

static PFN_vkGetInstanceProcAddr get_instance_proc;
static VkInstance instance;

#define INSTANCE_FN(name) PFN_##name name = (PFN_##name)get_instance_proc(instance, #name)

static int failed(const char *what, VkResult result) {
  printf("RESULT " PROGRAM " FAIL %s: VkResult %d\n", what, (int)result);
  return 1;
}

#define CHECK(call)                                    \
  do {                                                 \
    VkResult result_ = (call);                         \
    if (result_ != VK_SUCCESS) return failed(#call, result_); \
  } while (0)

int main(void) {
  void *loader = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!loader) {
    printf("RESULT " PROGRAM " FAIL cannot load libvulkan.so.1: %s\n", dlerror());
    return 1;
  }
  get_instance_proc = (PFN_vkGetInstanceProcAddr)dlsym(loader, "vkGetInstanceProcAddr");
  if (!get_instance_proc) {
    printf("RESULT " PROGRAM " FAIL libvulkan.so.1 has no vkGetInstanceProcAddr\n");
    return 1;
  }
  INSTANCE_FN(vkCreateInstance);
  VkApplicationInfo application = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                                   .pApplicationName = "nvgate gpu-check",
                                   .apiVersion = VK_API_VERSION_1_1};
  VkInstanceCreateInfo instance_info = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                        .pApplicationInfo = &application};
  CHECK(vkCreateInstance(&instance_info, NULL, &instance));

  INSTANCE_FN(vkEnumeratePhysicalDevices);
  INSTANCE_FN(vkGetPhysicalDeviceProperties);
  INSTANCE_FN(vkGetPhysicalDeviceQueueFamilyProperties);
  INSTANCE_FN(vkGetPhysicalDeviceMemoryProperties);
  INSTANCE_FN(vkCreateDevice);
  INSTANCE_FN(vkGetDeviceProcAddr);
  uint32_t device_count = 1;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkResult listed = vkEnumeratePhysicalDevices(instance, &device_count, &physical);
  if ((listed != VK_SUCCESS && listed != VK_INCOMPLETE) || device_count == 0) {
    printf("RESULT " PROGRAM " FAIL no Vulkan device (vkEnumeratePhysicalDevices: VkResult %d, %u devices)\n",
           (int)listed, device_count);
    return 1;
  }
  VkPhysicalDeviceProperties properties;
  vkGetPhysicalDeviceProperties(physical, &properties);

  VkQueueFamilyProperties families[16];
  uint32_t family_count = 16;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &family_count, families);
  uint32_t family = UINT32_MAX;
  for (uint32_t i = 0; i < family_count && family == UINT32_MAX; i++)
    if (families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) family = i;
  for (uint32_t i = 0; i < family_count && family == UINT32_MAX; i++)
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) family = i;
  if (family == UINT32_MAX) {
    printf("RESULT " PROGRAM " FAIL \"%s\" has no graphics or compute queue\n", properties.deviceName);
    return 1;
  }
  const char *queue_kind = (families[family].queueFlags & VK_QUEUE_GRAPHICS_BIT) ? "graphics" : "compute";

  float priority = 1.0f;
  VkDeviceQueueCreateInfo queue_info = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                        .queueFamilyIndex = family,
                                        .queueCount = 1,
                                        .pQueuePriorities = &priority};
  VkDeviceCreateInfo device_info = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                                    .queueCreateInfoCount = 1,
                                    .pQueueCreateInfos = &queue_info};
  VkDevice device;
  CHECK(vkCreateDevice(physical, &device_info, NULL, &device));

#define DEVICE_FN(name) PFN_##name name = (PFN_##name)vkGetDeviceProcAddr(device, #name)
  DEVICE_FN(vkGetDeviceQueue);
  DEVICE_FN(vkCreateBuffer);
  DEVICE_FN(vkGetBufferMemoryRequirements);
  DEVICE_FN(vkAllocateMemory);
  DEVICE_FN(vkBindBufferMemory);
  DEVICE_FN(vkMapMemory);
  DEVICE_FN(vkCreateCommandPool);
  DEVICE_FN(vkAllocateCommandBuffers);
  DEVICE_FN(vkBeginCommandBuffer);
  DEVICE_FN(vkCmdFillBuffer);
  DEVICE_FN(vkCmdPipelineBarrier);
  DEVICE_FN(vkCmdCopyBuffer);
  DEVICE_FN(vkEndCommandBuffer);
  DEVICE_FN(vkCreateFence);
  DEVICE_FN(vkQueueSubmit);
  DEVICE_FN(vkWaitForFences);
  VkQueue queue;
  vkGetDeviceQueue(device, family, 0, &queue);

  VkPhysicalDeviceMemoryProperties memory_properties;
  vkGetPhysicalDeviceMemoryProperties(physical, &memory_properties);
  const VkMemoryPropertyFlags host_visible =
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  VkBuffer buffers[2];
  VkDeviceMemory memories[2];
  for (int b = 0; b < 2; b++) {
    VkBufferCreateInfo buffer_info = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                                      .size = BUFFER_BYTES,
                                      .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                                      .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    CHECK(vkCreateBuffer(device, &buffer_info, NULL, &buffers[b]));
    VkMemoryRequirements requirements;
    vkGetBufferMemoryRequirements(device, buffers[b], &requirements);
    uint32_t type = UINT32_MAX;
    for (uint32_t t = 0; t < memory_properties.memoryTypeCount && type == UINT32_MAX; t++)
      if ((requirements.memoryTypeBits & (1u << t)) &&
          (memory_properties.memoryTypes[t].propertyFlags & host_visible) == host_visible)
        type = t;
    if (type == UINT32_MAX) {
      printf("RESULT " PROGRAM " FAIL no host-visible coherent memory type\n");
      return 1;
    }
    VkMemoryAllocateInfo allocate_info = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                          .allocationSize = requirements.size,
                                          .memoryTypeIndex = type};
    CHECK(vkAllocateMemory(device, &allocate_info, NULL, &memories[b]));
    CHECK(vkBindBufferMemory(device, buffers[b], memories[b], 0));
  }
  uint32_t *copied;
  CHECK(vkMapMemory(device, memories[1], 0, BUFFER_BYTES, 0, (void **)&copied));
  memset(copied, 0, BUFFER_BYTES);

  VkCommandPoolCreateInfo pool_info = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                       .queueFamilyIndex = family};
  VkCommandPool pool;
  CHECK(vkCreateCommandPool(device, &pool_info, NULL, &pool));
  VkCommandBufferAllocateInfo command_info = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                              .commandPool = pool,
                                              .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                              .commandBufferCount = 1};
  VkCommandBuffer commands;
  CHECK(vkAllocateCommandBuffers(device, &command_info, &commands));
  VkCommandBufferBeginInfo begin_info = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                         .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
  CHECK(vkBeginCommandBuffer(commands, &begin_info));
  vkCmdFillBuffer(commands, buffers[0], 0, BUFFER_BYTES, FILL_WORD);
  VkMemoryBarrier fill_then_copy = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                                    .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                                    .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT};
  vkCmdPipelineBarrier(commands, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
                       &fill_then_copy, 0, NULL, 0, NULL);
  VkBufferCopy region = {.size = BUFFER_BYTES};
  vkCmdCopyBuffer(commands, buffers[0], buffers[1], 1, &region);
  VkMemoryBarrier copy_then_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                                    .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                                    .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
  vkCmdPipelineBarrier(commands, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                       &copy_then_host, 0, NULL, 0, NULL);
  CHECK(vkEndCommandBuffer(commands));

  VkFenceCreateInfo fence_info = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VkFence fence;
  CHECK(vkCreateFence(device, &fence_info, NULL, &fence));
  VkSubmitInfo submit = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                         .pCommandBuffers = &commands};
  CHECK(vkQueueSubmit(queue, 1, &submit, fence));
  CHECK(vkWaitForFences(device, 1, &fence, VK_TRUE, 10ull * 1000 * 1000 * 1000));

  uint32_t wrong = 0;
  for (uint32_t i = 0; i < BUFFER_BYTES / 4; i++) wrong += copied[i] != FILL_WORD;
  printf("RESULT " PROGRAM " %s device=\"%s\" vendor=0x%04x api=%u.%u.%u queue_family=%u queue=%s bytes=%u "
         "wrong_words=%u\n",
         wrong ? "FAIL" : "ok", properties.deviceName, properties.vendorID, VK_API_VERSION_MAJOR(properties.apiVersion),
         VK_API_VERSION_MINOR(properties.apiVersion), VK_API_VERSION_PATCH(properties.apiVersion), family,
         queue_kind, BUFFER_BYTES, wrong);
  /* The objects go with the process, as the driver frees a closed client's. */
  return wrong ? 1 : 0;
}
