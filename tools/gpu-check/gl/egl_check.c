/* Headless EGL on the GPU, no display server: the EGL device platform
 * (EGL_EXT_device_enumeration, EGL_EXT_platform_device), a 1x1 pbuffer, a GL
 * context, one clear read back and checked. One RESULT line.
 *
 * Built by scripts/gpu-kit.sh with plain cc and needing only glibc: the GPU
 * host has no EGL headers or loader installed, so libEGL.so.1 (glvnd, carried
 * by the kit) is dlopen'ed and every entry point looked up. The types and
 * values below are those of the Khronos registry's headers, named by each. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "egl"

/* EGL/eglplatform.h, EGL/egl.h */
typedef int32_t EGLint;
typedef unsigned int EGLBoolean;
typedef unsigned int EGLenum;
typedef void *EGLDisplay;
typedef void *EGLConfig;
typedef void *EGLSurface;
typedef void *EGLContext;
/* EGL/eglext.h (EGL_EXT_device_base) */
typedef void *EGLDeviceEXT;

/* EGL/egl.h */
#define EGL_SUCCESS 0x3000
#define EGL_ALPHA_SIZE 0x3021
#define EGL_BLUE_SIZE 0x3022
#define EGL_GREEN_SIZE 0x3023
#define EGL_RED_SIZE 0x3024
#define EGL_SURFACE_TYPE 0x3033
#define EGL_NONE 0x3038
#define EGL_RENDERABLE_TYPE 0x3040
#define EGL_VENDOR 0x3053
#define EGL_VERSION 0x3054
#define EGL_EXTENSIONS 0x3055
#define EGL_HEIGHT 0x3056
#define EGL_WIDTH 0x3057
#define EGL_CONTEXT_CLIENT_VERSION 0x3098
#define EGL_OPENGL_ES_API 0x30A0
#define EGL_OPENGL_API 0x30A2
#define EGL_PBUFFER_BIT 0x0001
#define EGL_OPENGL_ES2_BIT 0x0004
#define EGL_OPENGL_BIT 0x0008
/* EGL/eglext.h (EGL_EXT_platform_device) */
#define EGL_PLATFORM_DEVICE_EXT 0x313F

/* GLES2/gl2.h (the same values in GL/gl.h) */
typedef unsigned int GLenum;
typedef unsigned int GLbitfield;
typedef int GLint;
typedef int GLsizei;
typedef float GLfloat;
typedef unsigned char GLubyte;
#define GL_NO_ERROR 0
#define GL_COLOR_BUFFER_BIT 0x00004000
#define GL_UNSIGNED_BYTE 0x1401
#define GL_RGBA 0x1908
#define GL_VENDOR 0x1F00
#define GL_RENDERER 0x1F01
#define GL_VERSION 0x1F02

static struct {
  void *(*GetProcAddress)(const char *);
  EGLint (*GetError)(void);
  EGLBoolean (*Initialize)(EGLDisplay, EGLint *, EGLint *);
  const char *(*QueryString)(EGLDisplay, EGLint);
  EGLBoolean (*ChooseConfig)(EGLDisplay, const EGLint *, EGLConfig *, EGLint, EGLint *);
  EGLBoolean (*BindAPI)(EGLenum);
  EGLSurface (*CreatePbufferSurface)(EGLDisplay, EGLConfig, const EGLint *);
  EGLContext (*CreateContext)(EGLDisplay, EGLConfig, EGLContext, const EGLint *);
  EGLBoolean (*MakeCurrent)(EGLDisplay, EGLSurface, EGLSurface, EGLContext);
  EGLBoolean (*DestroyContext)(EGLDisplay, EGLContext);
  EGLBoolean (*DestroySurface)(EGLDisplay, EGLSurface);
  EGLBoolean (*Terminate)(EGLDisplay);
  /* EGL_EXT_device_enumeration, EGL_EXT_platform_base */
  EGLBoolean (*QueryDevicesEXT)(EGLint, EGLDeviceEXT *, EGLint *);
  EGLDisplay (*GetPlatformDisplayEXT)(EGLenum, void *, const EGLint *);
} egl;

static struct {
  void (*ClearColor)(GLfloat, GLfloat, GLfloat, GLfloat);
  void (*Clear)(GLbitfield);
  void (*Finish)(void);
  void (*ReadPixels)(GLint, GLint, GLsizei, GLsizei, GLenum, GLenum, void *);
  GLenum (*GetError)(void);
  const GLubyte *(*GetString)(GLenum);
} gl;

static int fail(const char *what) {
  EGLint error = egl.GetError ? egl.GetError() : EGL_SUCCESS;
  if (error != EGL_SUCCESS)
    printf("RESULT " PROGRAM " FAIL %s (EGL error 0x%04x)\n", what, (unsigned)error);
  else
    printf("RESULT " PROGRAM " FAIL %s\n", what);
  return 1;
}

/* A GL function: from the client API's own library where it loads, else
 * from eglGetProcAddress (glvnd answers dispatch stubs for core GL names). */
static void *gl_symbol(void *library, const char *name) {
  void *f = library ? dlsym(library, name) : NULL;
  return f ? f : egl.GetProcAddress(name);
}

int main(void) {
  void *libegl = dlopen("libEGL.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!libegl) {
    printf("RESULT " PROGRAM " FAIL cannot load libEGL.so.1: %s\n", dlerror());
    return 1;
  }
  struct {
    const char *symbol;
    void **slot;
  } const entry_points[] = {
      {"eglGetProcAddress", (void **)&egl.GetProcAddress},
      {"eglGetError", (void **)&egl.GetError},
      {"eglInitialize", (void **)&egl.Initialize},
      {"eglQueryString", (void **)&egl.QueryString},
      {"eglChooseConfig", (void **)&egl.ChooseConfig},
      {"eglBindAPI", (void **)&egl.BindAPI},
      {"eglCreatePbufferSurface", (void **)&egl.CreatePbufferSurface},
      {"eglCreateContext", (void **)&egl.CreateContext},
      {"eglMakeCurrent", (void **)&egl.MakeCurrent},
      {"eglDestroyContext", (void **)&egl.DestroyContext},
      {"eglDestroySurface", (void **)&egl.DestroySurface},
      {"eglTerminate", (void **)&egl.Terminate},
  };
  for (size_t i = 0; i < sizeof entry_points / sizeof entry_points[0]; i++) {
    *entry_points[i].slot = dlsym(libegl, entry_points[i].symbol);
    if (!*entry_points[i].slot) {
      printf("RESULT " PROGRAM " FAIL libEGL.so.1 has no %s\n", entry_points[i].symbol);
      return 1;
    }
  }
  egl.QueryDevicesEXT = (__typeof__(egl.QueryDevicesEXT))egl.GetProcAddress("eglQueryDevicesEXT");
  egl.GetPlatformDisplayEXT = (__typeof__(egl.GetPlatformDisplayEXT))egl.GetProcAddress("eglGetPlatformDisplayEXT");
  if (!egl.QueryDevicesEXT || !egl.GetPlatformDisplayEXT)
    return fail("no eglQueryDevicesEXT or eglGetPlatformDisplayEXT (EGL_EXT_platform_device)");
  const char *client_extensions = egl.QueryString(NULL, EGL_EXTENSIONS);

  EGLDeviceEXT devices[8];
  EGLint device_count = 0;
  if (!egl.QueryDevicesEXT(8, devices, &device_count))
    return fail("eglQueryDevicesEXT failed");
  if (device_count == 0) {
    printf("RESULT " PROGRAM " FAIL eglQueryDevicesEXT found no device (client extensions: %s)\n",
           client_extensions ? client_extensions : "none");
    return 1;
  }

  /* The first device that initialises: a software device, where a vendor
   * library offers one, comes after the GPUs. */
  EGLDisplay display = NULL;
  EGLint device_index = -1, major = 0, minor = 0;
  for (EGLint i = 0; i < device_count && device_index < 0; i++) {
    display = egl.GetPlatformDisplayEXT(EGL_PLATFORM_DEVICE_EXT, devices[i], NULL);
    if (display && egl.Initialize(display, &major, &minor)) device_index = i;
  }
  if (device_index < 0) {
    char what[64];
    snprintf(what, sizeof what, "eglInitialize failed on each of %d devices", (int)device_count);
    return fail(what);
  }
  const char *vendor = egl.QueryString(display, EGL_VENDOR);

  /* OpenGL ES 2 where the display offers it, else desktop OpenGL. */
  static const EGLint es2_attributes[] = {EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_RENDERABLE_TYPE, EGL_OPENGL_ES2_BIT,
                                          EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8, EGL_BLUE_SIZE, 8, EGL_ALPHA_SIZE, 8,
                                          EGL_NONE};
  static const EGLint gl_attributes[] = {EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT,
                                         EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8, EGL_BLUE_SIZE, 8, EGL_ALPHA_SIZE, 8,
                                         EGL_NONE};
  EGLConfig config = NULL;
  EGLint config_count = 0;
  const char *api = "gles2";
  if (!egl.ChooseConfig(display, es2_attributes, &config, 1, &config_count) || config_count < 1) {
    api = "opengl";
    if (!egl.ChooseConfig(display, gl_attributes, &config, 1, &config_count) || config_count < 1)
      return fail("no pbuffer config with OpenGL ES 2 or OpenGL");
  }
  int es2 = strcmp(api, "gles2") == 0;
  if (!egl.BindAPI(es2 ? EGL_OPENGL_ES_API : EGL_OPENGL_API)) return fail("eglBindAPI failed");
  static const EGLint pbuffer_attributes[] = {EGL_WIDTH, 1, EGL_HEIGHT, 1, EGL_NONE};
  EGLSurface surface = egl.CreatePbufferSurface(display, config, pbuffer_attributes);
  if (!surface) return fail("eglCreatePbufferSurface failed");
  static const EGLint es2_context_attributes[] = {EGL_CONTEXT_CLIENT_VERSION, 2, EGL_NONE};
  EGLContext context = egl.CreateContext(display, config, NULL, es2 ? es2_context_attributes : NULL);
  if (!context) return fail("eglCreateContext failed");
  if (!egl.MakeCurrent(display, surface, surface, context)) return fail("eglMakeCurrent failed");

  void *libgl = dlopen(es2 ? "libGLESv2.so.2" : "libOpenGL.so.0", RTLD_NOW | RTLD_LOCAL);
  gl.ClearColor = (__typeof__(gl.ClearColor))gl_symbol(libgl, "glClearColor");
  gl.Clear = (__typeof__(gl.Clear))gl_symbol(libgl, "glClear");
  gl.Finish = (__typeof__(gl.Finish))gl_symbol(libgl, "glFinish");
  gl.ReadPixels = (__typeof__(gl.ReadPixels))gl_symbol(libgl, "glReadPixels");
  gl.GetError = (__typeof__(gl.GetError))gl_symbol(libgl, "glGetError");
  gl.GetString = (__typeof__(gl.GetString))gl_symbol(libgl, "glGetString");
  if (!gl.ClearColor || !gl.Clear || !gl.Finish || !gl.ReadPixels || !gl.GetError || !gl.GetString)
    return fail("no glClear, glReadPixels or glGetString");

  /* 0.25, 0.5, 0.75 are 63.75, 127.5, 191.25 of 255: the driver's rounding
   * may land on either side. */
  gl.ClearColor(0.25f, 0.5f, 0.75f, 1.0f);
  gl.Clear(GL_COLOR_BUFFER_BIT);
  unsigned char pixel[4] = {0, 0, 0, 0};
  gl.ReadPixels(0, 0, 1, 1, GL_RGBA, GL_UNSIGNED_BYTE, pixel);
  gl.Finish();
  GLenum gl_error = gl.GetError();
  const char *gl_vendor = (const char *)gl.GetString(GL_VENDOR);
  const char *renderer = (const char *)gl.GetString(GL_RENDERER);
  const char *version = (const char *)gl.GetString(GL_VERSION);
  static const int expected[4] = {64, 128, 191, 255};
  int pixel_ok = gl_error == GL_NO_ERROR;
  for (int c = 0; c < 4; c++) pixel_ok = pixel_ok && abs(pixel[c] - expected[c]) <= 1;

  /* The strings belong to the display and the context: the line is written
   * before they are destroyed. */
  printf("RESULT " PROGRAM " %s devices=%d device=%d egl=%d.%d egl_vendor=\"%s\" api=%s gl_vendor=\"%s\" "
         "renderer=\"%s\" gl_version=\"%s\" pixel=%d,%d,%d,%d gl_error=0x%x\n",
         pixel_ok ? "ok" : "FAIL", (int)device_count, (int)device_index, (int)major, (int)minor,
         vendor ? vendor : "?", api, gl_vendor ? gl_vendor : "?", renderer ? renderer : "?",
         version ? version : "?", pixel[0], pixel[1], pixel[2], pixel[3], gl_error);
  fflush(stdout);
  egl.MakeCurrent(display, NULL, NULL, NULL);
  egl.DestroyContext(display, context);
  egl.DestroySurface(display, surface);
  egl.Terminate(display);
  return pixel_ok ? 0 : 1;
}
