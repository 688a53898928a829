/* exitcodes.h — process exit codes of every drover command.
 *
 * Values follow Pacemaker's crm_exit_t so that scripts written for crm tools read ours
 * the same way (see ../shared/ANCHORS.md, "Operator conventions"). */
#ifndef DROVER_EXITCODES_H
#define DROVER_EXITCODES_H

enum ag_exit {
    AG_EX_OK           = 0,   /* success */
    AG_EX_ERROR        = 1,   /* generic failure; the message says what */
    AG_EX_INVALID      = 2,   /* an argument's value is invalid */
    AG_EX_PRIVILEGES   = 4,   /* needs root (the control socket is 0600) */
    AG_EX_USAGE        = 64,  /* unknown command or option, wrong number of arguments */
    AG_EX_DATAERR      = 65,  /* input data (a file, a reply) is malformed */
    AG_EX_NOINPUT      = 66,  /* a file that must exist does not */
    AG_EX_UNAVAILABLE  = 69,  /* the local agent is not running or not reachable */
    AG_EX_SOFTWARE     = 70,  /* internal error: a bug, please report */
    AG_EX_OSERR        = 71,  /* an OS call failed */
    AG_EX_CANTCREAT    = 73,  /* cannot create an output file */
    AG_EX_IOERR        = 74,  /* I/O error */
    AG_EX_TEMPFAIL     = 75,  /* try again later */
    AG_EX_PROTOCOL     = 76,  /* the agent answered something we do not understand */
    AG_EX_NOPERM       = 77,  /* refused: bad credentials (join token, fingerprint) */
    AG_EX_CONFIG       = 78,  /* configuration file is wrong */
    /* the state dir is older than what the cluster has seen from this host (restored
     * from a backup or copied): re-join; deploy/drover.service does not restart on it */
    AG_EX_OLD_STATE    = 103,
    AG_EX_NOSUCH       = 105, /* no such VM / host / item */
    AG_EX_QUORUM       = 106, /* no quorum: the cluster cannot decide now */
    AG_EX_UNSAFE       = 107, /* refused as unsafe; --force overrides where offered */
    AG_EX_EXISTS       = 108, /* already exists */
    AG_EX_TIMEOUT      = 124, /* gave up waiting */
};

#endif
