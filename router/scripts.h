/* scripts.h - the Redis function library "herald" (Lua), loaded at connect. */
#ifndef HERALD_SCRIPTS_H
#define HERALD_SCRIPTS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

/* The library's version, in its code (HERALD_LIB_VERSION_MARK) and answered
 * by the function herald_version. Instances sharing one Redis share one
 * library: at connect heraldd replaces the loaded one only when it is older
 * (or has no version, as before 1); a newer one is kept (scripts_load), so
 * that during a rolling upgrade an old heraldd does not take away the
 * functions a new one calls. The rule that makes this safe:
 *
 *   A newer version keeps every function of the older ones, under the same
 *   name, taking the same arguments (new ones only after them, optional)
 *   and answering as before: an older heraldd must be able to run on it.
 *   Bump the version with every change of the library's code.
 *
 * 1: herald_version; herald_list_add's optional arguments 7-12 (the
 *    journey record and the stream entry acknowledged with the refusal),
 *    herald_engage's 7-9 (the journey record). */
#define HERALD_LIB_VERSION 1
#define HERALD_LIB_VERSION_MARK "local herald_library_version = "

extern const char herald_lua_library[];

/* Load the library on a fresh connection unless the one Redis holds is as
 * new or newer: replaced when absent, older, or the same version with other
 * code (a change without a bump: as before versions); kept when newer, with
 * a notice (once per version seen). 0, or -1 with the reason in err. */
int scripts_load(redisContext *ctx, const char *where, char *err, size_t errlen);

/* The version in a library's code; 0 when it carries none. */
long scripts_code_version(const char *code, size_t len);

#endif
