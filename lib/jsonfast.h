/*
 * jsonfast.h - a quick parser for the JSON objects heraldd reads most (one
 * per event), building the same jansson tree json_loadb would.
 *
 * It takes a subset: an object at the top, strings without \u0000 or
 * surrogate escapes, integers of up to 18 digits, nesting up to 64 deep,
 * no repeated key in an object. Anything else, valid or not, gives NULL:
 * the caller then asks json_loadb, which decides and says why. So where
 * it answers, it answers as jansson (JSON_REJECT_DUPLICATES) would.
 *
 * buf must be valid UTF-8 without NUL bytes (event_parse checks that
 * first); len bytes, no terminator needed.
 */
#ifndef HERALD_JSONFAST_H
#define HERALD_JSONFAST_H

#include <jansson.h>
#include <stddef.h>

json_t *jsonfast_object(const char *buf, size_t len);

#endif
