/* tracee — every traced thread and process: the ptrace stop machine, and the table side of
 * attach and detach (the kernel side is attach.c). */
#include "tracee.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "arch.h"
#include "attach.h"
#include "backtrace.h"
#include "event.h"
#include "heat.h"
#include "inject.h"
#include "log.h"
#include "outbox.h"
#include "procfs.h"
#include "sampler.h"
#include "sandbox.h"
#include "syscalls.h"

#define NBUCKETS   1024
#define MAX_PARKED 64	/* first stops held for their creator's clone event */
#define MAX_EXITED 4096 /* exited processes remembered for snapshots */
#define PAGE	   MEVI_PAGE_SIZE
#define PAGE_UP(x) (((x) + PAGE - 1) & ~(PAGE - 1))

struct proc {
	pid_t pid;
	pid_t ppid;
	struct mm *mm; /* NULL before the adopted program's first exec */
	bool alive;
	int status;
	char *cmdline; /* NUL-separated arguments, as in /proc/PID/cmdline */
	size_t cmdline_len;
	struct proc *hnext;
	struct proc *prev, *next; /* creation order */
};

/*
 * A traced thread. Every thread in the table belongs to a process (proc is
 * never NULL): a thread is adopted, with its process, the first time the
 * kernel names it — at its creator's clone event or at its own first stop,
 * whichever comes first (see adopt_thread()).
 */
struct thread {
	pid_t tid;
	bool fresh;			 /* its initial ptrace stop is still to come */
	struct proc *proc;		 /* the process it belongs to */
	const struct traced_syscall *sc; /* awaiting the exit stop of this syscall */
	uint64_t args[6];
	bool group_stopped; /* parked with PTRACE_LISTEN */
	bool want_attach;   /* interrupted so that its mm can be attached */
	struct thread *hnext;
};

struct tracee_table {
	struct event_base *base;
	struct outbox *out;
	struct trace_mode mode;
	tracee_notify_fn notify;
	void *notify_ctx;
	struct thread *threads[NBUCKETS];
	struct proc *procs[NBUCKETS];
	struct proc *first, *last; /* creation order */
	size_t nalive;
	size_t nexited;
	pid_t main_pid;
	int main_status;
	struct mm_stats stats;
	struct backtrace *bt; /* NULL: --backtraces=off */
	/* Sampled mode (tracee_start_sampling). */
	struct sampler *sampler; /* sampled mode, or an exact attach; else NULL */
	bool sample_layout;	 /* attached: no syscall stops, re-read layouts too */
	pid_t launcher_pid;
	/* tracee_hold_main(): the adopted program's death is held. */
	tracee_main_exit_fn on_main_exit;
	void *main_exit_ctx;
	bool main_held; /* its zombie waits for tracee_release_main() */
	/* Attach (tracee_attach) and detach (tracee_detach). */
	bool attached, detaching;
	size_t nthreads_detached;
	/* New threads whose first stop came before their creator's clone event
	 * (park()): their tids and wait statuses. */
	struct parked {
		pid_t tid;
		int status;
	} parked[MAX_PARKED];
	size_t nparked;
	bool unparking; /* unpark_all(): adopted from /proc, never parked again */
};

/* ---- tables ---- */

static struct thread *thread_find(struct tracee_table *t, pid_t tid)
{
	for (struct thread *th = t->threads[tid % NBUCKETS]; th; th = th->hnext)
		if (th->tid == tid)
			return th;
	return NULL;
}

static struct thread *thread_add(struct tracee_table *t, pid_t tid)
{
	struct thread *th = calloc(1, sizeof(*th));

	MEVI_ASSERT(th);
	th->tid = tid;
	th->hnext = t->threads[tid % NBUCKETS];
	t->threads[tid % NBUCKETS] = th;
	return th;
}

static void thread_del(struct tracee_table *t, struct thread *th)
{
	struct thread **pp = &t->threads[th->tid % NBUCKETS];

	while (*pp != th)
		pp = &(*pp)->hnext;
	*pp = th->hnext;
	free(th);
}

static void proc_unhash(struct tracee_table *t, struct proc *p)
{
	struct proc **pp = &t->procs[p->pid % NBUCKETS];

	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
}

/* The live process pid, or NULL. */
static struct proc *proc_find(struct tracee_table *t, pid_t pid)
{
	for (struct proc *p = t->procs[pid % NBUCKETS]; p; p = p->hnext)
		if (p->pid == pid)
			return p;
	return NULL;
}

static void proc_unlink(struct tracee_table *t, struct proc *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		t->first = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		t->last = p->prev;
}

static void proc_free(struct proc *p)
{
	mm_put(p->mm);
	free(p->cmdline);
	free(p);
}

static struct proc *proc_add(struct tracee_table *t, pid_t pid, pid_t ppid)
{
	struct proc *p = calloc(1, sizeof(*p));

	MEVI_ASSERT(p);
	p->pid = pid;
	p->ppid = ppid;
	p->alive = true;
	p->status = -1;
	p->hnext = t->procs[pid % NBUCKETS];
	t->procs[pid % NBUCKETS] = p;
	p->prev = t->last;
	if (t->last)
		t->last->next = p;
	else
		t->first = p;
	t->last = p;
	t->nalive++;
	return p;
}

static void handle_stop(struct tracee_table *t, pid_t tid, int status);

/*
 * ---- first stops before their clone event ----
 *
 * The kernel lists a tracer's newest tracee first, so the first stop of a
 * fork child is usually reaped before its parent's fork event, which is
 * pending by then. Adopting the child at its own stop means reading its ids
 * from /proc/TID/status (20 us here, while both wait); its creator's event
 * names them for nothing. So that stop is held (the child stays stopped)
 * until the event comes, in the same reap round. Whatever is still held when
 * the round runs dry (a creator killed before its event) is adopted from
 * /proc then, as before: no thread waits for a report that may not come.
 */
static bool park(struct tracee_table *t, pid_t tid, int status)
{
	if (t->unparking || t->nparked == MAX_PARKED)
		return false;
	t->parked[t->nparked++] = (struct parked){tid, status};
	t->stats.parked++;
	return true;
}

/* Takes tid out of the held stops: its wait status, or -1 if not held. */
static int unpark(struct tracee_table *t, pid_t tid)
{
	for (size_t i = 0; i < t->nparked; i++) {
		if (t->parked[i].tid != tid)
			continue;
		int status = t->parked[i].status;

		t->parked[i] = t->parked[--t->nparked];
		return status;
	}
	return -1;
}

/* Handles every held stop now, adopting from /proc where needed. */
static void unpark_all(struct tracee_table *t)
{
	t->unparking = true;
	while (t->nparked > 0) {
		struct parked pk = t->parked[--t->nparked];

		t->stats.unparked_late++;
		handle_stop(t, pk.tid, pk.status);
	}
	t->unparking = false;
}

/* ---- events ---- */

/* Reads /proc/PID/cmdline into p. Keeps the old one if it cannot be read. */
static void read_cmdline(struct proc *p)
{
	procfs_cmdline_refresh(p->pid, &p->cmdline, &p->cmdline_len);
}

static void emit_cmdline_event(struct tracee_table *t, struct proc *p, uint8_t type, uint32_t flags)
{
	outbox_proc(t->out, type, p->pid, p->ppid, flags, p->cmdline, p->cmdline_len);
}

static void emit_exit(struct tracee_table *t, struct proc *p)
{
	struct mevi_event ev = {.type = MEVI_EV_PROC_EXIT, .pid = p->pid};

	ev.proc_exit.status = p->status;
	outbox_emit(t->out, &ev);
}

/* ---- lifecycle ---- */

/* mm_new for a process of t: the address space learns the mode (sampled or
 * exact, and how many seccomp filters are ours). flags: mm_new's. */
static int new_mm(struct tracee_table *t, pid_t pid, const struct memmap *template, unsigned flags,
		  struct mm **out)
{
	int err = mm_new(pid, template, t->base, t->out, &t->stats, flags, out);

	if (!err) {
		(*out)->own_filters = t->mode.own_filters;
		(*out)->sampled = t->mode.sampled;
		(*out)->size_checked = t->mode.sampled;
	}
	return err;
}

struct tracee_table *tracee_table_new(struct event_base *base, struct outbox *out,
				      const struct trace_mode *mode, tracee_notify_fn notify,
				      void *notify_ctx)
{
	struct tracee_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->base = base;
	t->out = out;
	t->mode = *mode;
	t->notify = notify;
	t->notify_ctx = notify_ctx;
	t->main_status = -1;
	return t;
}

void tracee_table_free(struct tracee_table *t)
{
	if (!t)
		return;
	sampler_free(t->sampler);
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct thread *th = t->threads[i];

		while (th) {
			struct thread *next = th->hnext;

			free(th);
			th = next;
		}
	}
	for (struct proc *p = t->first, *next; p; p = next) {
		next = p->next;
		proc_free(p);
	}
	backtrace_free(t->bt); /* after the mms, which add to its counters */
	free(t);
}

int tracee_adopt(struct tracee_table *t, pid_t pid, pid_t launcher_pid, char *const argv[])
{
	struct proc *p = proc_add(t, pid, launcher_pid);
	struct thread *th = thread_add(t, pid);

	p->cmdline = procfs_cmdline_join(argv, &p->cmdline_len);
	if (!p->cmdline)
		return -ENOMEM;
	th->proc = p;
	t->main_pid = pid;
	emit_cmdline_event(t, p, MEVI_EV_PROC_START, 0);
	return 0;
}

/* Forgets an exited process once too many are remembered. */
static void trim_exited(struct tracee_table *t)
{
	for (struct proc *p = t->first; p && t->nexited > MAX_EXITED;) {
		struct proc *next = p->next;

		if (!p->alive) {
			proc_unlink(t, p);
			proc_free(p);
			t->nexited--;
		}
		p = next;
	}
}

static void process_exited(struct tracee_table *t, struct proc *p, int status)
{
	p->status = mevi_exit_status(status);
	p->alive = false;
	proc_unhash(t, p);
	t->nalive--;
	t->nexited++;
	emit_exit(t, p);
	mm_put(p->mm);
	p->mm = NULL;
	if (p->pid == t->main_pid)
		t->main_status = p->status;
	/* Threads of the process that did not report (they cannot any more). */
	for (size_t i = 0; i < NBUCKETS; i++) {
		for (struct thread *th = t->threads[i], *next; th; th = next) {
			next = th->hnext;
			if (th->proc == p)
				thread_del(t, th);
		}
	}
	trim_exited(t);
	t->notify(t->notify_ctx);
}

/* The death of thread tid was reaped. A leader's death ends its process,
 * even when none of its stops was ever seen. Deaths of threads no longer in
 * the table (the other threads of an exec) change nothing. */
static void handle_death(struct tracee_table *t, pid_t tid, int status)
{
	struct thread *th = thread_find(t, tid);
	struct proc *p = proc_find(t, tid);

	(void)unpark(t, tid); /* killed while held: its stop is gone */
	if (th)
		thread_del(t, th);
	if (p)
		process_exited(t, p, status);
}

static void resume(pid_t tid, enum __ptrace_request req, int sig)
{
	if (ptrace(req, tid, NULL, (void *)(long)sig) < 0 && errno != ESRCH)
		log_warn("tid %d: ptrace resume: %s", tid, strerror(errno));
}

/* heat hook: sampled mode's write-protect userfaultfd (heat.h), at a stop
 * at a user-mode boundary. Returns false if the thread died. */
static bool attach_heat(struct tracee_table *t, struct thread *th)
{
	int death = 0;

	if (heat_mm_attach(th->proc->mm->heat, th->proc->pid, th->tid, 0, &death) == -ESRCH) {
		handle_death(t, th->tid, death);
		return false;
	}
	return true;
}

/* Attaches a userfaultfd, handling the thread dying meanwhile. Returns false
 * if the thread died (its death has been handled). */
static bool attach(struct tracee_table *t, struct thread *th, uint64_t insn)
{
	int death = 0;
	pid_t tid = th->tid;

	if (mm_attach(th->proc->mm, th->proc->pid, tid, insn, &death) == -ESRCH) {
		if (death != INJECT_EXITING)
			handle_death(t, tid, death);
		return false;
	}
	return attach_heat(t, th); /* heat hook */
}

/* Reads Tgid and PPid from /proc/TID/status, and whether the thread is dead
 * already (a zombie, the last of its process's threads). Returns 0 or -errno
 * (-ENOENT: the thread is gone). */
static int read_ids(pid_t tid, pid_t *tgid, pid_t *ppid, bool *dead)
{
	char buf[1024];
	long tg, pp, nthreads = 1;
	int err = procfs_status_read(tid, buf, sizeof(buf));

	if (err)
		return err;
	if (!procfs_status_field(buf, "Tgid", &tg) || !procfs_status_field(buf, "PPid", &pp))
		return -EIO;
	procfs_status_field(buf, "Threads", &nthreads);
	const char *st = strstr(buf, "\nState:");

	*dead =
	    st && (st[8] == 'Z' || st[8] == 'X' || st[9] == 'Z' || st[9] == 'X') && nthreads <= 1;
	*tgid = (pid_t)tg;
	*ppid = (pid_t)pp;
	return 0;
}

/*
 * read_ids for a thread its creator's clone event just named, without
 * reading /proc (the kernel formats all of /proc/TID/status: 64 us a fork
 * here, while the parent and the child wait): a fork
 * or vfork makes a process whose parent is the creator's, and a thread the
 * creator's thread group recognises (tgkill's signal 0) is its thread. A
 * death already pending or reaped, or a clone of another kind, is read.
 */
static int clone_ids(pid_t tid, const struct proc *creator, int event, pid_t *tgid, pid_t *ppid,
		     bool *dead)
{
	siginfo_t si = {0};

	if (event == PTRACE_EVENT_CLONE) {
		if (syscall(SYS_tgkill, creator->pid, tid, 0) == 0) {
			*tgid = creator->pid;
			*ppid = creator->ppid;
			*dead = false; /* its creator lives */
			return 0;
		}
	} else if (waitid(P_PID, tid, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 &&
		   si.si_pid == 0) {
		*tgid = tid;
		*ppid = creator->pid;
		*dead = false;
		return 0;
	}
	return read_ids(tid, tgid, ppid, dead);
}

/* The wait status of a zombie, from /proc/PID/stat's exit_code (field 52). */
static int zombie_status(pid_t pid)
{
	unsigned long long code;

	return procfs_stat_field(pid, 52, &code, NULL, 0) ? 0 : (int)code;
}

/*
 * The attach delay of an address space expired without a stop to attach at:
 * interrupt one of its threads (the owner's leader if it can be). A thread
 * parked in a group-stop or inside a traced syscall is left alone; the
 * timer comes back.
 */
static void on_mm_due(struct mm *mm, void *ctx)
{
	struct tracee_table *t = ctx;
	struct thread *th = thread_find(t, mm->pid);

	if (!th || th->fresh || th->proc->mm != mm) {
		th = NULL;
		for (size_t i = 0; i < NBUCKETS && !th; i++)
			for (struct thread *o = t->threads[i]; o && !th; o = o->hnext)
				if (!o->fresh && o->proc->mm == mm)
					th = o;
	}
	if (!th || th->group_stopped || th->sc || th->want_attach ||
	    sandbox_has_foreign_filters(mm->pid, t->mode.own_filters))
		return;
	if (ptrace(PTRACE_INTERRUPT, th->tid, NULL, NULL) == 0)
		th->want_attach = true;
}

/*
 * A new process pid, created by process parent (NULL when unknown: the
 * creator is gone, or is not traced): its proc, and its address space — the
 * creator's while they share it (vfork, CLONE_VM), else a copy of the
 * creator's map, which is exact since the creating thread has not run since
 * the fork; in any case it is read in full from the kernel when attached.
 * Its /proc files are opened at its first read (MM_OPEN_LATER): most fork
 * children exec first, which makes another. The pid cannot name another
 * process meanwhile: a tracee is not reaped before its death is handled.
 */
static struct proc *new_process(struct tracee_table *t, pid_t pid, pid_t ppid, struct proc *parent,
				bool dead)
{
	struct proc *p = proc_add(t, pid, parent ? parent->pid : ppid);

	if (parent && parent->cmdline) {
		p->cmdline = malloc(parent->cmdline_len);
		MEVI_ASSERT(p->cmdline);
		memcpy(p->cmdline, parent->cmdline, parent->cmdline_len);
		p->cmdline_len = parent->cmdline_len;
	} else {
		read_cmdline(p);
	}
	struct mm *pmm = parent ? parent->mm : NULL;

	emit_cmdline_event(t, p, MEVI_EV_PROC_START, pmm && !dead ? MEVI_PROC_INHERIT_MAP : 0);
	if (pmm && syscall(SYS_kcmp, parent->pid, p->pid, KCMP_VM, 0, 0) == 0) {
		/* vfork or CLONE_VM: the same address space until it execs. */
		mm_get(pmm);
		p->mm = pmm;
		return p;
	}
	if ((!pmm && parent) || dead)
		return p; /* the creator itself is not tracked (before its exec), or it is gone */
	int err = new_mm(t, p->pid, pmm ? pmm->map : NULL, MM_OPEN_LATER, &p->mm);

	if (err) {
		log_warn("pid %d: cannot track the new process: %s", p->pid, strerror(-err));
		return p;
	}
	if (pmm && pmm->syscall_insn_known) { /* a fork's vdso is where its parent's is */
		p->mm->syscall_insn = pmm->syscall_insn;
		p->mm->syscall_insn_known = true;
	}
	p->mm->bt = backtrace_mm_new(t->bt, p->pid, p->mm->map, pmm ? pmm->bt : NULL);
	mm_set_on_due(p->mm, on_mm_due, t);
	return p;
}

/*
 * Adopts thread tid, which the kernel just named for the first time: at the
 * clone event of its creator (creator is that thread's process, event the
 * PTRACE_EVENT_*), or at a stop of its own that came first (creator NULL,
 * event 0: found from /proc). Its process is
 * the live traced process of its Tgid, or a new one. Returns the thread, or
 * NULL when it is already gone (its death report, if any, changes nothing).
 *
 * Every ordering the kernel allows ends here: the initial stop before or
 * after the clone event, a creator already dead, a thread whose first report
 * is its exit stop. Nothing waits for a second notification, so no thread can
 * be left in a stop that nobody resumes.
 */
static struct thread *adopt_thread(struct tracee_table *t, pid_t tid, struct proc *creator,
				   int event)
{
	pid_t tgid, ppid;
	struct proc *p;
	bool dead = false;

	if ((creator ? clone_ids(tid, creator, event, &tgid, &ppid, &dead)
		     : read_ids(tid, &tgid, &ppid, &dead)) < 0)
		return NULL;
	p = proc_find(t, tgid);
	if (dead) {
		/* Its death may have been reaped already: a tracer that is not
		 * the parent leaves a zombie for the parent. A new process is
		 * shown, and ended now; a thread is not adopted. */
		if (!p && tgid == tid) {
			p = new_process(t, tgid, ppid, creator ? creator : proc_find(t, ppid),
					true);
			process_exited(t, p, zombie_status(tid));
		}
		return NULL;
	}
	if (!p) {
		if (!creator)
			creator = proc_find(t, ppid);
		p = new_process(t, tgid, ppid, creator, false);
	}
	struct thread *th = thread_add(t, tid);

	th->proc = p;
	th->fresh = true;
	return th;
}

/* The initial stop of a thread: a new thread's stack is the mapping its stack
 * pointer is in. */
static void on_initial_stop(struct thread *th)
{
	struct arch_regs regs;

	th->fresh = false;
	if (th->tid != th->proc->pid && th->proc->mm && arch_get_regs(th->tid, &regs) == 0)
		mm_note_thread_stack(th->proc->mm, th->tid, arch_regs_sp(&regs));
}

/* A fork, vfork or clone event: adopt the new thread now if its own stop
 * has not done it already. */
static void on_clone_event(struct tracee_table *t, struct thread *parent, int event)
{
	unsigned long msg = 0;

	if (ptrace(PTRACE_GETEVENTMSG, parent->tid, NULL, &msg) < 0 || msg == 0)
		return;
	if (thread_find(t, (pid_t)msg))
		return;
	int held = unpark(t, (pid_t)msg);

	if (adopt_thread(t, (pid_t)msg, parent->proc, event) && held != -1)
		handle_stop(t, (pid_t)msg, held); /* its first stop, held till now */
	else if (held != -1)
		resume((pid_t)msg, PTRACE_CONT, 0); /* dying: let it finish */
}

static void on_exec_event(struct tracee_table *t, struct thread *th)
{
	unsigned long former = 0;
	struct proc *p = th->proc;

	if (!p)
		return;
	/* exec from a non-leader thread: it now carries the leader's tid. Every
	 * other thread of the process is gone (their deaths may still be
	 * reported; they are no longer in the table then). */
	ptrace(PTRACE_GETEVENTMSG, th->tid, NULL, &former);
	for (size_t i = 0; i < NBUCKETS; i++) {
		for (struct thread *o = t->threads[i], *next; o; o = next) {
			next = o->hnext;
			if (o->proc == p && o != th)
				thread_del(t, o);
		}
	}
	if ((pid_t)former != th->tid)
		log_debug("pid %d: exec by thread %lu", p->pid, former);
	mm_put(p->mm);
	p->mm = NULL;
	read_cmdline(p);
	/* Its /proc files at its first read, as a fork child's (new_process). */
	emit_cmdline_event(t, p, MEVI_EV_PROC_EXEC, 0);
	int err = new_mm(t, p->pid, NULL, MM_CPU_FROM_NOW | MM_OPEN_LATER, &p->mm);
	if (err)
		log_warn("pid %d: cannot track after exec: %s", p->pid, strerror(-err));
	else {
		p->mm->bt = backtrace_mm_new(t->bt, p->pid, p->mm->map, NULL);
		mm_set_on_due(p->mm, on_mm_due, t);
	}
}

/*
 * Whether a syscall of a pending address space stops at its exit for a
 * backtrace. A forked child that maps memory right away does real work and
 * gets its origins; an image just exec'd spends its first 2 ms (of time, or
 * of CPU time when the tracer's stops stretch it: mm_young) in the dynamic
 * loader and libc's start-up, whose small mappings only --backtraces=all
 * unwinds (backtrace_wants_exit: a big anonymous one is the program's own).
 * Past those, its mappings are the program's own even while it is not
 * attached yet (mm.h: that waits for 2 ms of its CPU time).
 */
static bool pending_backtrace(const struct tracee_table *t, const struct thread *th)
{
	int kind = th->sc->kind;

	if (backtrace_wants_exit(t->bt, kind, th->args))
		return true;
	return t->bt && (th->proc->mm->forked || !mm_young(th->proc->mm)) &&
	       (kind == SYSCALL_MMAP || kind == SYSCALL_MREMAP || kind == SYSCALL_BRK);
}

/*
 * Before a brk that stops at its exit too: where the break is, when not known
 * yet. The filter lets brk(0) through (the loader's query in every exec'd
 * image, which moved nothing and cost a stop), so the first brk that moves
 * the break is the first one seen; read now, before it runs, the break is
 * where that growth starts: its exact resync range and its origin's range.
 */
static void learn_brk(struct mm *mm)
{
	uint64_t brk;

	if (mm->brk_end || mm_read_brk(mm, &brk))
		return;
	mm->brk_end = brk;
	backtrace_brk_seen(mm->bt, brk);
}

/* The seccomp stop of a traced syscall: note it, and stop again at its exit. */
static void on_seccomp_stop(struct tracee_table *t, struct thread *th)
{
	struct __ptrace_syscall_info info;

	if (!th->proc || !th->proc->mm ||
	    ptrace(PTRACE_GET_SYSCALL_INFO, th->tid, sizeof(info), &info) < 0 ||
	    info.op != PTRACE_SYSCALL_INFO_SECCOMP || info.arch != arch_audit_native) {
		resume(th->tid, PTRACE_CONT, 0);
		return;
	}
	th->sc = traced_syscall_lookup(t->mode.syscalls, (long)info.seccomp.nr);
	if (!th->sc) {
		resume(th->tid, PTRACE_CONT, 0);
		return;
	}
	memcpy(th->args, info.seccomp.args, sizeof(th->args));
	if (th->sc->kind == SYSCALL_UFFD) { /* heat hook */
		heat_mm_program_uffd(th->proc->mm->heat);
		th->sc = NULL;
		resume(th->tid, PTRACE_CONT, 0);
		return;
	}
	if (th->sc->kind == SYSCALL_MUNMAP) {
		/* Sampled mode: munmap cannot fail on page-aligned arguments, so
		 * it is applied now, without an exit stop (a tick re-reads it). */
		mm_unmap_now(th->proc->mm, th->args[0], th->args[1]);
		th->sc = NULL;
		resume(th->tid, PTRACE_CONT, 0);
		return;
	}
	/* A pending address space is re-read in full when it is attached: its
	 * layout changes until then need no exit stop, unless for a backtrace
	 * of anonymous memory (a young process's file mappings are the dynamic
	 * loader's: not worth a stop each). */
	if (th->proc->mm->state == MM_PENDING && !mm_attach_due(th->proc->mm) &&
	    (!pending_backtrace(t, th) ||
	     (th->sc->kind == SYSCALL_MMAP && !(th->args[3] & MAP_ANONYMOUS)))) {
		if (th->sc->kind == SYSCALL_BRK)
			th->proc->mm->brk_end = 0; /* moved unseen: learnt again */
		th->sc = NULL;
		resume(th->tid, PTRACE_CONT, 0);
		return;
	}
	if (th->sc->kind == SYSCALL_BRK)
		learn_brk(th->proc->mm);
	resume(th->tid, PTRACE_SYSCALL, 0);
}

static void apply_syscall(struct mm *mm, const struct traced_syscall *sc, const uint64_t *a,
			  int64_t rval, bool is_error)
{
	switch (sc->kind) {
	case SYSCALL_MMAP:
		if (!is_error)
			mm_resync(mm, (uint64_t)rval, (uint64_t)rval + PAGE_UP(a[1]));
		break;
	case SYSCALL_MADVISE:
		mm_resync(mm, a[0], a[0] + PAGE_UP(a[1]));
		break;
	case SYSCALL_MUNMAP:
	case SYSCALL_UFFD:
		break; /* applied at its seccomp stop */
	case SYSCALL_SHMAT:
		if (!is_error)
			mm_resync_mapping(mm, (uint64_t)rval);
		break;
	case SYSCALL_SHMDT:
		mm_resync_mapping(mm, a[0]);
		break;
	case SYSCALL_MREMAP:
		if (!is_error)
			mm_remap(mm, a[0], a[1], (uint64_t)rval, a[2]);
		break;
	case SYSCALL_BRK: {
		const uint64_t window = UINT64_C(256) << 20;
		uint64_t now = PAGE_UP((uint64_t)rval);
		uint64_t before = mm->brk_end;

		if (!before) {
			/* Not known (learn_brk could not read it): look below
			 * the new end. */
			before = a[0] && now > window ? now - window : now;
		}
		if (before != now)
			mm_resync(mm, before < now ? before : now, before < now ? now : before);
		mm->brk_end = now;
		break;
	}
	}
}

static void on_syscall_stop(struct tracee_table *t, struct thread *th)
{
	struct __ptrace_syscall_info info;
	struct mm *mm = th->proc ? th->proc->mm : NULL;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, th->tid, sizeof(info), &info) < 0 ||
	    info.op != PTRACE_SYSCALL_INFO_EXIT) {
		resume(th->tid, PTRACE_CONT, 0);
		return;
	}
	if (th->sc && mm) {
		const struct traced_syscall *sc = th->sc;

		th->sc = NULL;
		if (mm->state == MM_PENDING && !mm_attach_due(mm)) {
			/* Stopped for the backtrace only (see on_seccomp_stop);
			 * nothing applied, but the break is where brk says it is
			 * now (the next brk's resync starts there: a stale one
			 * left a regrown heap out once the mm was attached). */
			if (sc->kind == SYSCALL_BRK)
				mm->brk_end = PAGE_UP((uint64_t)info.exit.rval);
			backtrace_syscall_exit(mm->bt, th->tid, sc->kind, th->args, info.exit.rval,
					       info.exit.is_error, NULL);
			resume(th->tid, PTRACE_CONT, 0);
			return;
		}
		if (mm->state == MM_PENDING) {
			/* Without a vdso syscall instruction, use the one just run. */
			uint64_t insn = mm_syscall_insn(mm)
					    ? 0
					    : info.instruction_pointer - arch_syscall_insn_len;

			if (!attach(t, th, insn))
				return;
		}
		apply_syscall(mm, sc, th->args, info.exit.rval, info.exit.is_error);
		backtrace_syscall_exit(mm->bt, th->tid, sc->kind, th->args, info.exit.rval,
				       info.exit.is_error, NULL);
		/* heat hook: sampled mode injects at the first exit stop it gets */
		if (!attach_heat(t, th))
			return;
	}
	th->sc = NULL;
	resume(th->tid, PTRACE_CONT, 0);
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/*
 * PTRACE_EVENT_EXIT. The leader of a process whose address space was never
 * attached (or is sampled) is exiting: its final state is read while the mm
 * still exists, the process let go, and only then is what was read applied
 * (mm_read_final): the model's work overlaps the rest of its exit.
 */
static void on_exit_event(struct thread *th)
{
	struct mm *mm = th->proc ? th->proc->mm : NULL;

	if (!mm || (mm->state != MM_PENDING && mm->state != MM_SAMPLED) ||
	    th->tid != th->proc->pid) {
		resume(th->tid, PTRACE_CONT, 0);
		return;
	}
	/* The kernel's part is read while it waits and applied once it runs
	 * on; without it, the whole read is made while it waits. */
	bool split = mm_read_final(mm) == 0;

	if (!split)
		mm_resync(mm, 0, MEVI_ADDR_LIMIT);
	resume(th->tid, PTRACE_CONT, 0);
	if (split)
		mm_apply_final(mm);
}

/*
 * PTRACE_EVENT_STOP: a group-stop (job control), or the stop asked for with
 * PTRACE_INTERRUPT, or the wake-up of a tracee parked with PTRACE_LISTEN.
 */
static void on_event_stop(struct tracee_table *t, struct thread *th, int sig)
{
	struct mm *mm = th->proc ? th->proc->mm : NULL;

	if (is_stop_signal(sig)) {
		/* Group-stop: stay stopped until SIGCONT, as without mevi. A
		 * pending address space is read now, while it holds still. */
		th->group_stopped = true;
		if (mm && (mm->state == MM_PENDING || mm->state == MM_SAMPLED || t->attached) &&
		    th->tid == th->proc->pid)
			mm_resync(mm, 0, MEVI_ADDR_LIMIT);
		t->notify(t->notify_ctx);
		resume(th->tid, PTRACE_LISTEN, 0);
		return;
	}
	/* A stop at a user-mode boundary: a userfaultfd can be injected here. */
	th->group_stopped = false;
	if (mm && (th->want_attach || mm_attach_due(mm))) {
		th->want_attach = false;
		if (!attach(t, th, 0))
			return;
	}
	th->want_attach = false;
	resume(th->tid, PTRACE_CONT, 0);
}

static void detach_tid(struct tracee_table *t, struct thread *th, pid_t tid, int sig);
static void handle_stop(struct tracee_table *t, pid_t tid, int status)
{
	struct thread *th = thread_find(t, tid);
	int sig = WSTOPSIG(status);
	int event = status >> 16;

	if (t->detaching) {
		/* A signal-delivery-stop passes its signal on; any other stop
		 * (the interrupt asked for, an event, the first stop of a thread
		 * born meanwhile) ends with nothing. */
		detach_tid(t, th, tid, event == 0 && sig != (SIGTRAP | 0x80) ? sig : 0);
		return;
	}
	if (!th) {
		if (event == PTRACE_EVENT_STOP && park(t, tid, status))
			return; /* its creator's clone event names it */
		th = adopt_thread(t, tid, NULL, 0);
		if (!th) {
			resume(tid, PTRACE_CONT, 0); /* dying: let it finish */
			return;
		}
	}
	if (th->fresh && event == PTRACE_EVENT_STOP)
		on_initial_stop(th);
	/* Any other ptrace-stop cancels a PTRACE_INTERRUPT still pending (the
	 * kernel drops JOBCTL_TRAP_STOP at every trap): no PTRACE_EVENT_STOP
	 * will come for it. Ask again at once: the attach is overdue. */
	if (th->want_attach && event != PTRACE_EVENT_STOP) {
		th->want_attach = false;
		if (th->proc && th->proc->mm && th->proc->mm->state == MM_PENDING)
			mm_set_on_due(th->proc->mm, on_mm_due, t);
	}
	switch (event) {
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
	case PTRACE_EVENT_CLONE:
		on_clone_event(t, th, event);
		resume(tid, PTRACE_CONT, 0);
		return;
	case PTRACE_EVENT_EXEC:
		on_exec_event(t, th);
		resume(tid, PTRACE_CONT, 0);
		return;
	case PTRACE_EVENT_SECCOMP:
		on_seccomp_stop(t, th);
		return;
	case PTRACE_EVENT_STOP:
		on_event_stop(t, th, sig);
		return;
	case PTRACE_EVENT_EXIT:
		on_exit_event(th);
		return;
	case 0:
		break;
	default:
		resume(tid, PTRACE_CONT, 0);
		return;
	}
	if (sig == (SIGTRAP | 0x80)) {
		on_syscall_stop(t, th);
		return;
	}
	/* Signal-delivery-stop: deliver it as the kernel would have. */
	resume(tid, PTRACE_CONT, sig);
}

/* The wait status waitpid() would give for the exit waitid() reported. */
static int exit_status_of(const siginfo_t *si)
{
	if (si->si_code == CLD_EXITED)
		return (si->si_status & 0xff) << 8;
	return (si->si_status & 0x7f) | (si->si_code == CLD_DUMPED ? 0x80 : 0);
}

/*
 * The adopted program died (seen with WNOWAIT, so its parent does not know
 * yet). Returns true when its zombie is to be held for
 * tracee_release_main(): nothing else is traced, the session ends now.
 */
static bool main_died(struct tracee_table *t, const siginfo_t *si)
{
	handle_death(t, t->main_pid, exit_status_of(si));
	t->on_main_exit(t->main_exit_ctx, t->nalive > 0);
	if (t->nalive > 0)
		return false;
	t->main_held = true;
	return true;
}

static void reap_all(struct tracee_table *t)
{
	for (;;) {
		siginfo_t si = {0};
		int status;
		pid_t tid;

		/* Look before reaping: the program's death must not reach its
		 * parent before the session has it. */
		if (waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT | __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (si.si_pid == 0)
			return;
		if (si.si_pid == t->main_pid && t->on_main_exit && si.si_code != CLD_TRAPPED &&
		    si.si_code != CLD_STOPPED && si.si_code != CLD_CONTINUED &&
		    (t->main_held || main_died(t, &si)))
			return;
		tid = waitpid(si.si_pid, &status, __WALL | WNOHANG);
		if (tid < 0 && errno == EINTR)
			continue;
		if (tid <= 0)
			return;
		if (tid == t->main_pid && t->on_main_exit && !WIFSTOPPED(status))
			continue; /* handled by main_died() */
		t->stats.stops++;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			handle_death(t, tid, status);
		else if (WIFSTOPPED(status))
			handle_stop(t, tid, status);
	}
}

void tracee_reap(struct tracee_table *t)
{
	reap_all(t);
	unpark_all(t); /* their creators' events did not come */
}

void tracee_hold_main(struct tracee_table *t, tracee_main_exit_fn fn, void *ctx)
{
	t->on_main_exit = fn;
	t->main_exit_ctx = ctx;
}

void tracee_release_main(struct tracee_table *t)
{
	if (!t->main_held)
		return;
	while (waitpid(t->main_pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	t->main_held = false;
}

static size_t thread_count(const struct tracee_table *t)
{
	size_t n = 0;

	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct thread *th = t->threads[i]; th; th = th->hnext)
			n++;
	return n;
}

size_t tracee_alive(const struct tracee_table *t, pid_t *pids, size_t max)
{
	size_t n = 0;

	for (const struct proc *p = t->first; p; p = p->next)
		if (p->alive && n < max)
			pids[n++] = p->pid;
	return t->nalive;
}

bool tracee_all_gone(const struct tracee_table *t)
{
	if (t->detaching && thread_count(t) == 0)
		return true;
	return t->nalive == 0;
}

/* ---- sampled mode (the timer and its backoff: sampler.h) ---- */

/* One sampling tick: re-read every live address space once. */
static void sample_tick(void *arg)
{
	struct tracee_table *t = arg;

	for (struct proc *p = t->first; p; p = p->next) {
		if (!p->alive || !p->mm || p->mm->pid != p->pid)
			continue; /* dead, or another process owns the address space */
		if (t->sample_layout)
			mm_resync(p->mm, 0, MEVI_ADDR_LIMIT);
		else
			mm_sample(p->mm);
	}
}

int tracee_start_sampling(struct tracee_table *t, unsigned ms, pid_t launcher_pid, bool announce,
			  bool scan_layout)
{
	t->launcher_pid = launcher_pid;
	t->sample_layout = scan_layout;
	t->sampler = sampler_new(t->base, t->out, ms, launcher_pid, announce, sample_tick, t);
	return t->sampler ? 0 : -ENOMEM;
}

unsigned tracee_sample_ms(const struct tracee_table *t)
{
	return t->sampler ? sampler_interval(t->sampler) : 0;
}

void tracee_sampler_cost(const struct tracee_table *t, uint64_t *cpu_ns, uint64_t *ticks,
			 unsigned *changes)
{
	*cpu_ns = *ticks = 0;
	*changes = 0;
	if (t->sampler)
		sampler_cost(t->sampler, cpu_ns, ticks, changes);
}

/* ---- attach and detach ---- */

/* attach_seize_threads()'s view of the table: the threads of the process
 * being attached to. */
struct seize_ctx {
	struct tracee_table *t;
	struct proc *p;
};

static bool seize_known(void *ctx, pid_t tid)
{
	struct seize_ctx *c = ctx;

	return thread_find(c->t, tid) != NULL;
}

static void seize_add(void *ctx, pid_t tid)
{
	struct seize_ctx *c = ctx;

	thread_add(c->t, tid)->proc = c->p;
}

int tracee_attach(struct tracee_table *t, pid_t pid, pid_t launcher_pid)
{
	struct seize_ctx sc = {.t = t};
	pid_t ppid = attach_parent(pid);
	struct proc *p;
	int err;

	if (ppid < 0)
		return ppid;
	p = sc.p = proc_add(t, pid, ppid);
	t->main_pid = pid;
	t->attached = true;
	t->launcher_pid = launcher_pid;
	err = attach_seize_threads(pid, seize_known, seize_add, &sc);
	if (err)
		return err;
	read_cmdline(p);
	emit_cmdline_event(t, p, MEVI_EV_PROC_START, 0);
	err = new_mm(t, pid, NULL, 0, &p->mm);
	if (err) {
		log_warn("pid %d: cannot read its memory: %s", pid, strerror(-err));
		return 0;
	}
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct thread *th = t->threads[i]; th; th = th->hnext) {
			uint64_t sp = th->tid != pid ? procfs_task_sp(pid, th->tid) : 0;

			if (sp)
				mm_note_thread_stack(p->mm, th->tid, sp);
		}
	mm_set_on_due(p->mm, on_mm_due, t);
	return 0;
}

/* Lets thread tid go (th: its entry, or NULL for a thread born during the
 * detach), delivering the signal it was stopped with, if any. */
static void detach_tid(struct tracee_table *t, struct thread *th, pid_t tid, int sig)
{
	attach_release_thread(tid, sig);
	t->nthreads_detached++;
	if (th)
		thread_del(t, th);
}

void tracee_detach(struct tracee_table *t)
{
	if (t->detaching)
		return;
	t->detaching = true;
	if (t->sampler)
		sampler_stop(t->sampler);
	/* Exact mode: our userfaultfds hold registrations in the processes;
	 * closing them is what leaves the processes as they were. */
	for (struct proc *p = t->first; p; p = p->next)
		if (p->mm && p->mm->pid == p->pid)
			mm_release(p->mm);
	/* Every thread must be in a ptrace stop to be detached: ask for one.
	 * The stops arrive through tracee_reap(). */
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct thread *th = t->threads[i]; th; th = th->hnext)
			ptrace(PTRACE_INTERRUPT, th->tid, NULL, NULL); /* ESRCH: its death
									* report comes */
}

bool tracee_detached(const struct tracee_table *t)
{
	return t->detaching && thread_count(t) == 0;
}

int tracee_main_status(const struct tracee_table *t)
{
	return t->main_status;
}

void tracee_snapshot(struct tracee_table *t)
{
	backtrace_snapshot(t->bt); /* every stack, before the origins naming them */
	for (struct proc *p = t->first; p; p = p->next) {
		emit_cmdline_event(t, p, MEVI_EV_PROC_START, 0);
		if (p->mm) {
			mm_emit_snapshot(p->mm, p->pid);
			backtrace_mm_snapshot(p->mm->bt, p->mm->map, p->pid);
		}
		if (!p->alive)
			emit_exit(t, p);
	}
}

const struct mm_stats *tracee_stats(const struct tracee_table *t)
{
	return &t->stats;
}

void tracee_set_backtraces(struct tracee_table *t, int mode, unsigned depth)
{
	backtrace_free(t->bt);
	t->bt = backtrace_new(t->out, t->base, (enum backtrace_mode)mode, depth);
}

void tracee_finish(struct tracee_table *t)
{
	backtrace_finish(t->bt);
}
