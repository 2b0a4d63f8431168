// libogg (Debian libogg-dev): Ogg pages for the Opus recordings (RFC 7845).
#ifndef LIVESFU_COGG_SHIM_H
#define LIVESFU_COGG_SHIM_H
#include <ogg/ogg.h>
#endif
