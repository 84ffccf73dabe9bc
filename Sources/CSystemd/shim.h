#ifndef COLLEGEDB_CSYSTEMD_SHIM_H
#define COLLEGEDB_CSYSTEMD_SHIM_H

/* sd_journal_sendv as a plain function, not a macro adding the C call site. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#endif
