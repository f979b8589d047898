/* badabi.c - a test plugin built for a future ABI: the loader must refuse it. */
#include <herald/channel.h>

static const char *const variants[] = {"email", NULL};

HERALD_CHANNEL_EXPORT = {
    .abi = HERALD_CHANNEL_ABI + 41,
    .version = 1,
    .name = "badabi",
    .variants = variants,
};
