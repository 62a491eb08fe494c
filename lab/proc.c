/*
 * proc.c: the one way the L0 runner runs another program: posix_spawnp with an argv,
 * waiting through EINTR (Ctrl-C sets lab_interrupted; the child still gets reaped).
 */
#include "proc.h"

#include <errno.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

int proc_run(const char *const *argv)
{
    pid_t pid;
    int status = 0;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) != 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
