/* scripts.h - the Redis function library "herald" (Lua), loaded at connect. */
#ifndef HERALD_SCRIPTS_H
#define HERALD_SCRIPTS_H
extern const char herald_lua_library[];
#endif
