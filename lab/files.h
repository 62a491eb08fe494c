/* files.h: file helpers both binaries' callers need (no shell, no cp). */
#ifndef FMLAB_FILES_H
#define FMLAB_FILES_H

#include <stddef.h>

/* mkdir -p: parents 0755, the last component 0700. 0, or -1 with errno. */
int files_mkdir_p(const char *path);
/* Copy from -> to in place (to keeps its inode: a QEMU holding it open sees the new
 * content), keeping holes. 0, or -1 with err naming the file and the reason. */
int files_copy_sparse(const char *from, const char *to, char *err, size_t errlen);
/* to becomes a hard link to from, or a copy when they are on different filesystems. */
int files_link_or_copy(const char *from, const char *to, char *err, size_t errlen);

#endif
