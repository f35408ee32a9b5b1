/*
 * ending — the one named way a session or a process ended, as /api/state
 * and the page tell it.
 *
 * Every session and every process of mevid's registry ends in exactly one of
 * these ways (ENDING_NONE while it is still going):
 *
 *  - exited: it exited with a status (session_end / proc_exit);
 *  - killed: it was killed by signal N (the wire's status 128+N, N in
 *    1..64: as a shell's $?, an exit code of 129..192 reads as the signal it
 *    conventionally means);
 *  - detached: the launcher let the program go (`mevi-run --pid` with Ctrl-C
 *    or --detach-after; session_end status -1): it runs on, untracked;
 *  - launcher_lost: the launcher's connection closed without session_end
 *    (mevi-run killed, crashed, or its host went away);
 *  - recording_cut: a recording that stops before its session_end (its
 *    writer died; `mevid --load` kept every complete batch);
 *  - untracked (processes only): the session ended normally while this
 *    process was still tracked (no proc_exit for it);
 *  - replaced (processes only): its pid started again without an exit seen.
 *
 * mevid keeps no sessions across its own restarts, so there is no
 * "daemon_restarted" ending: a launcher that reconnects to a new mevid
 * resumes its session there (PROTOCOL.md section 5).
 */
#ifndef MEVI_DAEMON_ENDING_H
#define MEVI_DAEMON_ENDING_H

#include <stdint.h>

enum ending_how {
	ENDING_NONE = 0,
	ENDING_EXITED = 1,
	ENDING_KILLED = 2,
	ENDING_DETACHED = 3,
	ENDING_LAUNCHER_LOST = 4,
	ENDING_RECORDING_CUT = 5,
	ENDING_UNTRACKED = 6,
	ENDING_REPLACED = 7,
};
#define ENDING_COUNT 8

/* "exited", "killed", ... ; NULL for ENDING_NONE or out of range. */
const char *ending_name(unsigned how);

/* The ending a wire status says: -1 detached, 129..192 killed (by status -
 * 128), anything else exited. */
uint8_t ending_from_status(int32_t status);

#endif /* MEVI_DAEMON_ENDING_H */
