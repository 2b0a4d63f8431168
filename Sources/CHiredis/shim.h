// hiredis (Debian libhiredis-dev): the Redis client of the cluster directory. Its command
// functions return `void *` and its error text is a fixed array, awkward from Swift: typed
// static inline wrappers here.
#ifndef LIVESFU_CHIREDIS_SHIM_H
#define LIVESFU_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>

static inline redisReply *lsfu_redis_command_argv(redisContext *c, int argc, const char **argv, const size_t *argvlen) {
    return (redisReply *)redisCommandArgv(c, argc, argv, argvlen);
}
static inline const char *lsfu_redis_errstr(const redisContext *c) { return c->errstr; }
static inline int lsfu_redis_err(const redisContext *c) { return c->err; }
#endif
