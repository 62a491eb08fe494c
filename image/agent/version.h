/* version.h: the guest agent's version, which the boot smoke test expects to see. */
#ifndef FMLAB_AGENT_VERSION_H
#define FMLAB_AGENT_VERSION_H
#define AGENT_VERSION "0.2.0"
#endif
