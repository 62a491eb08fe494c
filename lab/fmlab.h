/* fmlab.h: the subcommand table shared by main.c and the cmd_*.c files. */
#ifndef FMLAB_H
#define FMLAB_H

#define FMLAB_VERSION "0.1.0"

struct fmlab_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);   /* argv[0] is the subcommand name */
    void (*usage)(void);
};

int cmd_config(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_up(int argc, char **argv);
void usage_up(void);
int cmd_down(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_ssh(int argc, char **argv);
void usage_ssh(void);
int cmd_migrate(int argc, char **argv);
void usage_migrate(void);
int cmd_agent(int argc, char **argv);
void usage_agent(void);
int cmd_ycsb(int argc, char **argv);
void usage_ycsb(void);
int cmd_plot(int argc, char **argv);
void usage_plot(void);
void usage_console(void);
void usage_status(void);
void usage_exec(void);
void usage_down(void);
void usage_doctor(void);
void usage_config(void);
int cmd_snapshot(int argc, char **argv);
void usage_snapshot(void);



#endif
