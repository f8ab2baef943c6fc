/* One line per call: "<what>: ok", or "<what>: ERR <ERRNO_NAME>" when rc < 0. */
#ifndef REPORT_H
#define REPORT_H
#include <errno.h>
#include <stdio.h>
#include <string.h>

static void report(const char *what, long rc)
{
    if (rc < 0)
        printf("%s: ERR %s\n", what, strerrorname_np(errno));
    else
        printf("%s: ok\n", what);
}

#endif
