// libsrtp 2.x (the project's OpenSSL build, or Debian's with LIVESFU_SRTP=debian).
#ifndef LIVESFU_CSRTP_SHIM_H
#define LIVESFU_CSRTP_SHIM_H
#include <srtp2/srtp.h>
#endif
