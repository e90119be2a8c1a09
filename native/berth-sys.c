// berth-sys: the few syscalls the engine needs in-process that Node's fs lacks
// (mknod, l*xattr, mount, umount2, recvmsg with SCM_RIGHTS). No policy here: src/sys/native.ts wraps each one with types.
// Errors are thrown as Node's fs errors are: Error with .code ("EPERM"), .errno, .syscall, .path.
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>

#define CHECK(call)                                         \
  do {                                                      \
    if ((call) != napi_ok) {                                \
      napi_throw_error(env, NULL, "berth-sys: " #call);     \
      return NULL;                                          \
    }                                                       \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  const char *code = strerrorname_np(err);
  char desc[128], msg[4096 + 256];
  snprintf(desc, sizeof desc, "%s", strerror(err));
  desc[0] = (char)tolower((unsigned char)desc[0]); // "operation not permitted", as libuv says it
  snprintf(msg, sizeof msg, "%s: %s, %s '%s'", code ? code : "EUNKNOWN", desc, syscall, path);
  napi_value m, e, v;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "code", v);
  napi_create_int32(env, -err, &v);
  napi_set_named_property(env, e, "errno", v);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "syscall", v);
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "path", v);
  napi_throw(env, e);
  return NULL;
}

// A JS string argument as a malloc'd C string (caller frees); NULL with a TypeError thrown.
static char *string_arg(napi_env env, napi_value v, const char *what) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) {
    napi_throw_error(env, NULL, "berth-sys: out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) { // an embedded NUL would silently shorten the path
    free(s);
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  return s;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "berth-sys: missing arguments");
    return -1;
  }
  return 0;
}

// mknod(path, mode, dev: bigint | number)
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv)) return NULL;
  uint32_t mode;
  uint64_t dev;
  napi_valuetype t;
  CHECK(napi_get_value_uint32(env, argv[1], &mode));
  CHECK(napi_typeof(env, argv[2], &t));
  if (t == napi_bigint) {
    bool lossless;
    CHECK(napi_get_value_bigint_uint64(env, argv[2], &dev, &lossless));
  } else {
    int64_t n;
    CHECK(napi_get_value_int64(env, argv[2], &n));
    dev = (uint64_t)n;
  }
  char *path = string_arg(env, argv[0], "mknod: path must be a string");
  if (!path) return NULL;
  if (mknod(path, (mode_t)mode, (dev_t)dev) < 0) throw_errno(env, errno, "mknod", path);
  free(path);
  return NULL;
}

// lsetxattr(path, name, value: Buffer)
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (get_args(env, info, 3, argv)) return NULL;
  void *data;
  size_t size;
  CHECK(napi_get_buffer_info(env, argv[2], &data, &size));
  char *path = string_arg(env, argv[0], "lsetxattr: path must be a string");
  if (!path) return NULL;
  char *name = string_arg(env, argv[1], "lsetxattr: name must be a string");
  if (name && lsetxattr(path, name, data, size, 0) < 0) throw_errno(env, errno, "lsetxattr", path);
  free(name);
  free(path);
  return NULL;
}

// lgetxattr(path, name): Buffer | undefined (undefined when the attribute is not set)
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2], result = NULL;
  if (get_args(env, info, 2, argv)) return NULL;
  char *path = string_arg(env, argv[0], "lgetxattr: path must be a string");
  if (!path) return NULL;
  char *name = string_arg(env, argv[1], "lgetxattr: name must be a string");
  char *buf = NULL;
  while (name) { // the value can grow between the size query and the read: retry on ERANGE
    ssize_t n = lgetxattr(path, name, NULL, 0);
    if (n >= 0) {
      free(buf);
      buf = malloc(n ? n : 1);
      n = buf ? lgetxattr(path, name, buf, n) : -1;
      if (n >= 0) {
        void *copy;
        napi_create_buffer_copy(env, n, buf, &copy, &result);
        break;
      }
    }
    if (errno == ERANGE) continue;
    if (errno == ENODATA) napi_get_undefined(env, &result);
    else throw_errno(env, errno, "lgetxattr", path);
    break;
  }
  free(buf);
  free(name);
  free(path);
  return result;
}

// llistxattr(path): string[]
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1], result = NULL;
  if (get_args(env, info, 1, argv)) return NULL;
  char *path = string_arg(env, argv[0], "llistxattr: path must be a string");
  if (!path) return NULL;
  char *buf = NULL;
  for (;;) {
    ssize_t n = llistxattr(path, NULL, 0);
    if (n >= 0) {
      free(buf);
      buf = malloc(n ? n : 1);
      n = buf ? llistxattr(path, buf, n) : -1;
      if (n >= 0) {
        napi_create_array(env, &result);
        uint32_t i = 0;
        for (ssize_t off = 0; off < n; off += strlen(buf + off) + 1) {
          napi_value s;
          napi_create_string_utf8(env, buf + off, NAPI_AUTO_LENGTH, &s);
          napi_set_element(env, result, i++, s);
        }
        break;
      }
    }
    if (errno == ERANGE) continue;
    throw_errno(env, errno, "llistxattr", path);
    break;
  }
  free(buf);
  free(path);
  return result;
}

// mount(source, target, fstype, flags, data, cwd?): relative paths in data (overlay's
// lowerdir) are resolved against cwd, which is ours only for the length of the call.
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  size_t argc = 6;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) {
    napi_throw_type_error(env, NULL, "berth-sys: missing arguments");
    return NULL;
  }
  uint32_t flags;
  CHECK(napi_get_value_uint32(env, argv[3], &flags));
  char *source = string_arg(env, argv[0], "mount: source must be a string");
  char *target = source ? string_arg(env, argv[1], "mount: target must be a string") : NULL;
  char *fstype = target ? string_arg(env, argv[2], "mount: fstype must be a string") : NULL;
  char *data = fstype ? string_arg(env, argv[4], "mount: data must be a string") : NULL;
  char *cwd = NULL;
  napi_valuetype t = napi_undefined;
  if (data && argc > 5) napi_typeof(env, argv[5], &t);
  if (t == napi_string) cwd = string_arg(env, argv[5], "mount: cwd must be a string");
  if (data && (t != napi_string || cwd)) {
    int saved = -1, err = 0;
    if (cwd) {
      saved = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (saved < 0 || chdir(cwd) < 0) err = errno;
    }
    if (!err && mount(source, target, fstype, flags, data) < 0) err = errno;
    if (saved >= 0) {
      if (fchdir(saved) < 0 && !err) err = errno;
      close(saved);
    }
    if (err) throw_errno(env, err, "mount", target);
  }
  free(cwd);
  free(data);
  free(fstype);
  free(target);
  free(source);
  return NULL;
}

// umount2(target, flags)
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv)) return NULL;
  uint32_t flags;
  CHECK(napi_get_value_uint32(env, argv[1], &flags));
  char *target = string_arg(env, argv[0], "umount2: target must be a string");
  if (!target) return NULL;
  if (umount2(target, (int)flags) < 0) throw_errno(env, errno, "umount2", target);
  free(target);
  return NULL;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// recvFds(fd, length, timeoutMs): { data: Buffer, fds: number[] }. Reads up to `length`
// bytes from a unix stream socket and the fds sent with them (SCM_RIGHTS, close-on-exec),
// waiting at most timeoutMs; fewer bytes when the peer closes or the time is up.
static napi_value js_recv_fds(napi_env env, napi_callback_info info) {
  napi_value argv[3], result, fds, data;
  if (get_args(env, info, 3, argv)) return NULL;
  int32_t fd, timeout;
  uint32_t len;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_uint32(env, argv[1], &len));
  CHECK(napi_get_value_int32(env, argv[2], &timeout));
  char *buf = malloc(len ? len : 1);
  if (!buf) {
    napi_throw_error(env, NULL, "berth-sys: out of memory");
    return NULL;
  }
  CHECK(napi_create_array(env, &fds));
  uint32_t nfds = 0, got = 0;
  long long deadline = now_ms() + timeout;
  int err = 0;
  while (got < len) {
    struct iovec iov = {.iov_base = buf + got, .iov_len = len - got};
    union {
      struct cmsghdr align;
      char buf[CMSG_SPACE(16 * sizeof(int))];
    } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        err = errno;
        break;
      }
      long long left = deadline - now_ms();
      if (left <= 0) break;
      struct pollfd p = {.fd = fd, .events = POLLIN};
      poll(&p, 1, (int)left);
      continue;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < count; i++) {
        int passed;
        memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        napi_value v;
        napi_create_int32(env, passed, &v);
        napi_set_element(env, fds, nfds++, v);
      }
    }
    if (n == 0) break;
    got += (uint32_t)n;
  }
  if (err) {
    free(buf);
    return throw_errno(env, err, "recvmsg", "socket");
  }
  void *copy;
  CHECK(napi_create_buffer_copy(env, got, buf, &copy, &data));
  free(buf);
  CHECK(napi_create_object(env, &result));
  CHECK(napi_set_named_property(env, result, "data", data));
  CHECK(napi_set_named_property(env, result, "fds", fds));
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
    {"umount2", NULL, js_umount2, NULL, NULL, NULL, napi_enumerable, NULL},
    {"recvFds", NULL, js_recv_fds, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
