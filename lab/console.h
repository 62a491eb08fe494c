/* console.h: drive a VM's serial console (QEMU socket chardev) through libexpect. */
#ifndef FMLAB_CONSOLE_H
#define FMLAB_CONSOLE_H

#include <stddef.h>

struct console {
    int fd;
    char name[32];      /* for messages: "guest", "src", ... */
};

enum { CONSOLE_OK = 0, CONSOLE_TIMEOUT = -1, CONSOLE_EOF = -2, CONSOLE_ERROR = -3, CONSOLE_TOO_LONG = -4 };

/* Connect to QEMU's console socket, retrying until timeout_s (QEMU may still be starting). */
int console_open(struct console *c, const char *name, const char *sock_path, int timeout_s);
/* The same over an already connected socket (TCP into the lab network); takes fd. */
int console_open_fd(struct console *c, const char *name, int fd);
void console_close(struct console *c);
/* Wait for a regular expression (libexpect regexp syntax). */
int console_expect(struct console *c, const char *regex, int timeout_s);
/* Wait for the first of several regexps; returns its index (>= 0) or a CONSOLE_* error. */
int console_expect_any(struct console *c, const char *const *regexes, int n, int timeout_s);
int console_send(struct console *c, const char *text);
/* Wait for kernel, userspace and the root prompt, printing "[name] kernel… (2.1 s)" per
 * stage; then prepare the shell. A boot that still prints is still booting: it fails
 * after idle_s without console output, at ceiling_s, or on a panic / emergency shell;
 * err then names the stage and the console's last line about a failed unit or device.
 * CONSOLE_OK with *seconds, or an error with err set. */
int console_wait_boot(struct console *c, int idle_s, int ceiling_s, double *seconds, char *err,
                      size_t errlen);
/* After autologin: quiet kernel messages on the console, fixed shell settings. */
int console_prepare_shell(struct console *c, int timeout_s);
/* Run a shell command; its output (up to outlen-1 bytes, NUL-terminated) and exit status. */
int console_run(struct console *c, const char *cmd, int timeout_s, char *out, size_t outlen,
                int *status);
const char *console_strerror(int rc);

/* The regexp of a root shell prompt after autologin ("root@host:~# "). */
#define CONSOLE_ROOT_PROMPT "root@[-a-zA-Z0-9]+:[^#\r\n]*# "

#endif
