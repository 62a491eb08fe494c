/*
 * files.c: the few file operations the lab does at L0 (the shared guest disk, the share
 * of kernels and initrds the hosts mount), done with system calls. A path from
 * config.txt never passes through a shell.
 */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int files_mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
    snprintf(err, errlen, "%s %.1000s: %s", what, path, strerror(errno));
    return -1;
}

/* Copy [off, end) of in to out at the same offsets. */
static int copy_range(int in, int out, off_t off, off_t end)
{
    char buf[1 << 16];
    while (off < end) {
        size_t want = end - off < (off_t)sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
        ssize_t n = pread(in, buf, want, off);
        if (n <= 0)
            return n < 0 ? -1 : (errno = EIO, -1);
        for (ssize_t done = 0; done < n;) {
            ssize_t w = pwrite(out, buf + done, (size_t)(n - done), off + done);
            if (w < 0)
                return -1;
            done += w;
        }
        off += n;
    }
    return 0;
}

int files_copy_sparse(const char *from, const char *to, char *err, size_t errlen)
{
    struct stat st;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0 || fstat(in, &st) < 0) {
        if (in >= 0)
            close(in);
        return fail(err, errlen, "cannot read", from);
    }
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return fail(err, errlen, "cannot write", to);
    }
    int rc = ftruncate(out, st.st_size);
    for (off_t data = 0; rc == 0 && data < st.st_size;) {
        data = lseek(in, data, SEEK_DATA);
        if (data < 0) {
            rc = errno == ENXIO ? 0 : -1;  /* only a hole is left */
            break;
        }
        off_t hole = lseek(in, data, SEEK_HOLE);
        rc = hole < 0 ? -1 : copy_range(in, out, data, hole);
        data = hole;
    }
    if (rc == 0)
        rc = fsync(out);
    int saved = errno;
    close(in);
    close(out);
    errno = saved;
    return rc == 0 ? 0 : fail(err, errlen, "cannot copy to", to);
}

int files_link_or_copy(const char *from, const char *to, char *err, size_t errlen)
{
    if (unlink(to) < 0 && errno != ENOENT)
        return fail(err, errlen, "cannot replace", to);
    if (link(from, to) == 0)
        return 0;
    if (errno != EXDEV && errno != EPERM)
        return fail(err, errlen, "cannot link", to);
    return files_copy_sparse(from, to, err, errlen);
}
