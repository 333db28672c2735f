/* The CPU executor: the joined kernel table, the plan runner (in order, or
 * scheduled over a pool of threads) and the thread count. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <cblas.h>

#include "sf_internal.h"

/* ---- kernel table ------------------------------------------------------- */

typedef int64_t (*sf_entries_fn)(const sf_kernel_entry **out);

static const sf_entries_fn sf_families[] = {
    sf_cpu_elementwise_entries,
    sf_cpu_array_entries,
    sf_cpu_linalg_entries,
    sf_cpu_reduce_entries,
    sf_cpu_nn_entries,
    sf_cpu_training_entries,
    sf_cpu_random_entries,
    sf_cpu_debug_entries,
    sf_cpu_conv_entries,
    sf_cpu_topk_entries,
    sf_cpu_fused_entries,
};
#define SF_N_FAMILIES ((int)(sizeof sf_families / sizeof sf_families[0]))

/* The joined table, built once. The family tables are static arrays, so the
 * join is deterministic: two threads racing on the first call would write the
 * same values; the critical section makes it clean anyway. */
static sf_kernel_entry *sf_table;
static int64_t sf_table_count;
static int sf_table_built;

static void sf_build_table(void)
{
    sf_blas_init();
    int64_t total = 0;
    for (int f = 0; f < SF_N_FAMILIES; f++) {
        const sf_kernel_entry *e = NULL;
        total += sf_families[f](&e);
    }
    /* The executor is not a kernel: one allocation, kept for the process
     * lifetime, holds the joined table (the family sizes are only known at
     * run time). */
    sf_kernel_entry *buf = (sf_kernel_entry *)calloc((size_t)(total ? total : 1), sizeof *buf);
    if (!buf) {
        sf_table_count = 0;
        return;
    }
    int64_t k = 0;
    for (int f = 0; f < SF_N_FAMILIES; f++) {
        const sf_kernel_entry *e = NULL;
        int64_t n = sf_families[f](&e);
        for (int64_t i = 0; i < n; i++) buf[k++] = e[i];
    }
    sf_table = buf;
    sf_table_count = k;
}

const sf_kernel_entry *sf_cpu_kernel_table(int64_t *count)
{
    int built;
#pragma omp atomic read
    built = sf_table_built;
    if (!built) {
#pragma omp critical(sf_kernel_table)
        {
            if (!sf_table_built) {
                sf_build_table();
#pragma omp atomic write
                sf_table_built = 1;
            }
        }
    }
    if (count) *count = sf_table_count;
    return sf_table;
}

/* ---- plan runner -------------------------------------------------------- */

static int64_t sf_now_ns(void);

static int64_t sf_run_calls(sf_kernel *fns, sf_call *calls, int64_t n, int *status)
{
    for (int64_t i = 0; i < n; i++) {
        int st = fns[i](&calls[i]);
        if (st != SF_OK) {
            if (status) *status = st;
            return i;
        }
    }
    if (status) *status = SF_OK;
    return -1;
}

/* ---- the kernels' thread count, chosen per run -----------------------------
 *
 * A parallel loop ends when its slowest thread does, and a thread whose core another
 * process holds runs only when that process yields: on a machine that is not idle, the
 * caller's full thread count can make a run several times slower than one thread. So each
 * plan (known by its calls array) keeps the time of its runs at each rung of a ladder of
 * counts (the caller's count, halved down to 1) and runs at the rung that has been
 * fastest, now and then trying the rungs beside it: at first every few runs, then less
 * often (up to every SF_PROBE_MAX runs, or SF_PROBE_COSTLY_MAX after probes many times slower
 * than the choice) while the choice holds, and often again after it changes or after a run
 * much slower than the choice's mean (another process starting: then fewer threads).
 * Kernels cut their work by its size, not by the thread count, so the count chosen never
 * changes a result. sf_policy_replay runs these rules on given times, for tests. */

/* Plans are found by their calls array in a table of SF_POLICY_SLOTS entries, in sets
 * of SF_POLICY_WAYS (a new plan takes its set's least recently run entry): a training
 * step through a loop runs a dozen segments of nested plans per step, and two plans that
 * took turns in one entry would each reset the other's times at every run and never
 * leave the caller's full count. */
#define SF_POLICY_SLOTS 1024
#define SF_POLICY_WAYS 8
#define SF_RUNGS 8
#define SF_PROBE_MIN 4
#define SF_PROBE_MAX 128
#define SF_PROBE_SHARE 16
#define SF_PROBE_COSTLY_MAX 1024

typedef struct {
    const void *key;      /* the plan's calls array */
    int64_t n;
    int top;              /* the caller's count the ladder starts from */
    int rungs;            /* counts top, top/2, ..., 1 */
    int rung;             /* the current choice */
    int next_side;        /* which neighbour the next probe tries */
    int warming;          /* a probe of more threads: -1 its first, untimed run is on; 1 its
                           * timed second run is next; 0 none */
    int64_t est[SF_RUNGS]; /* a running mean of each rung's run time (ns), 0: never run */
    int64_t runs, next_probe, interval;
    uint64_t last; /* when it last ran (sf_policy_clock) */
} sf_policy;

static sf_policy sf_policies[SF_POLICY_SLOTS];
static uint64_t sf_policy_clock;
static pthread_mutex_t sf_policy_mu = PTHREAD_MUTEX_INITIALIZER;
static int sf_adaptive = 1;

void sf_set_adaptive_threads(int on)
{
    __atomic_store_n(&sf_adaptive, on != 0, __ATOMIC_RELAXED);
}

/* The rungs of the ladder from `top` threads: top, top/2, ..., 1 (at most SF_RUNGS). */
static int sf_rung_count(int top)
{
    int r = 1;
    while (r < SF_RUNGS && (top >> r) >= 1) r++;
    return r;
}

static int sf_rung_threads(int top, int rung)
{
    int t = top >> rung;
    return t < 1 ? 1 : t;
}

/* The rung this run takes (the choice, or a neighbour to probe). */
static int sf_policy_pick(const void *key, int64_t n, int top, int *slot)
{
    const uintptr_t h = ((uintptr_t)key >> 6) ^ (uintptr_t)n * 0x9e3779b1u;
    const int set = (int)(h % (SF_POLICY_SLOTS / SF_POLICY_WAYS)) * SF_POLICY_WAYS;
    pthread_mutex_lock(&sf_policy_mu);
    int s = set;
    for (int w = 0; w < SF_POLICY_WAYS; w++) {
        const sf_policy *q = &sf_policies[set + w];
        if (q->key == key && q->n == n) {
            s = set + w;
            break;
        }
        if (q->last < sf_policies[s].last) s = set + w; /* the least recently run (or unused) */
    }
    *slot = s;
    sf_policy *p = &sf_policies[s];
    p->last = ++sf_policy_clock;
    if (p->key != key || p->n != n || p->top != top) {
        memset(p, 0, sizeof *p);
        p->last = sf_policy_clock;
        p->key = key;
        p->n = n;
        p->top = top;
        p->rungs = sf_rung_count(top);
        p->interval = SF_PROBE_MIN;
        p->next_probe = 2 + SF_PROBE_MIN; /* two runs to settle (first-run set-up), then probe */
    }
    int rung = p->rung;
    p->runs++;
    if (p->warming) {
        /* the timed second run of a probe of more threads */
        rung = p->rung - 1;
    } else if (p->runs >= p->next_probe && p->rungs > 1) {
        int side = p->next_side;
        if (rung + side * 2 - 1 < 0 || rung + side * 2 - 1 >= p->rungs) side = !side;
        p->next_side = !side;
        rung = rung + side * 2 - 1;
        p->next_probe = p->runs + p->interval;
        /* more threads than the choice: threads that have been idle are asleep, and the
         * first run wakes them (tens of us, as long as a whole batch-1 run), so the probe
         * is two runs and only the second is timed */
        p->warming = rung < p->rung ? -1 : 0;
    }
    pthread_mutex_unlock(&sf_policy_mu);
    return rung;
}

static void sf_policy_record(int slot, const void *key, int64_t n, int top, int rung, int64_t ns)
{
    pthread_mutex_lock(&sf_policy_mu);
    sf_policy *p = &sf_policies[slot];
    /* the first two runs settle (first-run set-up): they time no rung */
    if (p->key == key && p->n == n && p->top == top && rung < p->rungs && p->runs > 2) {
        int runs = 1; /* the probe's runs, when this run is one */
        if (p->warming && rung == p->rung - 1) {
            /* a probe of more threads: its first run woke them (untimed), its second is timed */
            p->warming = p->warming < 0 ? 1 : 0;
            if (p->warming) {
                pthread_mutex_unlock(&sf_policy_mu);
                return;
            }
            runs = 2;
        }
        int64_t *e = &p->est[rung];
        if (rung == p->rung && *e && ns > *e + *e / 2 && rung + 1 < p->rungs) {
            /* a sudden slowdown (another process took a core?): probe fewer threads soon.
             * More threads cannot help there, and on the lowest rung a probe of more
             * threads while a core is taken costs a scheduler slice (30 ms against a 2 ms
             * step), so a passing hiccup there probes nothing. */
            p->interval = SF_PROBE_MIN;
            p->next_side = 1;
            if (p->next_probe > p->runs + 1) p->next_probe = p->runs + 1;
        }
        /* the choice keeps a running mean; a probe's own time replaces the rung's last
         * one, which may be from long ago (averaged with it, a slow start held the wide
         * LeNet's inter-op step at the wrong rung for some 70 runs) */
        *e = *e && rung == p->rung ? (3 * *e + ns) / 4 : ns;
        if (rung != p->rung) {
            /* a probe: move when it was clearly faster than the choice's mean */
            const int64_t cur = p->est[p->rung];
            if (cur && ns < cur - cur / 8) {
                p->rung = rung;
                p->interval = SF_PROBE_MIN;
            } else {
                /* a lost probe: back off, and far enough that probes like it take at most
                 * 1/SF_PROBE_SHARE of the time (one that cost 15 runs' time, its untimed
                 * first run included, waits 15 * SF_PROBE_SHARE runs) */
                int64_t iv = p->interval < SF_PROBE_MAX ? p->interval * 2 : SF_PROBE_MAX;
                const int64_t cost = cur ? SF_PROBE_SHARE * runs * (ns / cur) : 0;
                if (cost > iv) iv = cost < SF_PROBE_COSTLY_MAX ? cost : SF_PROBE_COSTLY_MAX;
                p->interval = iv;
            }
            p->next_probe = p->runs + p->interval;
        }
    }
    pthread_mutex_unlock(&sf_policy_mu);
}

int64_t sf_policy_replay(int top, int64_t runs, const int64_t *ns, int32_t *rungs)
{
    static char key;             /* replays' plans: this address, with n of their own */
    static int64_t replays;
    if (top < 2 || runs < 0 || (runs && (!ns || !rungs))) return -1;
    const int nr = sf_rung_count(top);
    pthread_mutex_lock(&sf_policy_mu);
    const int64_t n = -1 - replays++;
    pthread_mutex_unlock(&sf_policy_mu);
    for (int64_t i = 0; i < runs; i++) {
        int slot;
        const int rung = sf_policy_pick(&key, n, top, &slot);
        rungs[i] = rung;
        sf_policy_record(slot, &key, n, top, rung, ns[i * nr + rung]);
    }
    return nr;
}

static int sf_run_threads(const void *key, int64_t n, int *slot, int *rung)
{
    const int top = omp_in_parallel() ? 1 : omp_get_max_threads();
    *slot = -1;
    *rung = 0;
    if (top <= 1 || !__atomic_load_n(&sf_adaptive, __ATOMIC_RELAXED)) return top;
    *rung = sf_policy_pick(key, n, top, slot);
    return sf_rung_threads(top, *rung);
}

int64_t sf_run_plan(sf_kernel *fns, sf_call *calls, int64_t n, int *status)
{
    int slot, rung;
    const int top = omp_in_parallel() ? 1 : omp_get_max_threads();
    const int t = sf_run_threads(calls, n, &slot, &rung);
    if (slot < 0) return sf_run_calls(fns, calls, n, status);
    if (t != top) omp_set_num_threads(t);
    const int64_t t0 = sf_now_ns();
    const int64_t failed = sf_run_calls(fns, calls, n, status);
    const int64_t ns = sf_now_ns() - t0;
    if (t != top) omp_set_num_threads(top);
    if (failed < 0) sf_policy_record(slot, calls, n, top, rung, ns);
    return failed;
}

/* ---- scheduled plan runner ---------------------------------------------- */

#define SF_MAX_WORKERS 256

/* One run of sf_run_schedule. Everything in it but the read-only inputs is
 * guarded by sf_pool_mu. */
typedef struct sf_job {
    sf_kernel *fns;
    sf_call *calls;
    int64_t n;
    const int64_t *succ_start;
    const int32_t *succ;
    int32_t *count;   /* calls each call still waits for */
    int64_t *heap;    /* ready calls, a min-heap of indices */
    int64_t heap_n;
    int64_t finished; /* calls done, failed ones included */
    int64_t started;
    int running;      /* calls executing now */
    int threads;      /* workers 1..threads-1 take part, with the caller (0) */
    int omp_threads;  /* the caller's OpenMP thread count: what the running calls share */
    const int64_t *cost; /* each call's estimated cost, or NULL (all alike) */
    int64_t run_call[SF_MAX_WORKERS]; /* per thread: the call it runs, or -1 */
    int run_share[SF_MAX_WORKERS];    /* and that call's OpenMP threads */
    int64_t failed;   /* lowest failing index, or -1 */
    int fail_status;
    int64_t *trace;
} sf_job;

/* Spins of an idle worker before it sleeps: kernels are often a few
 * microseconds, shorter than a wake-up through the condition variable. */
#define SF_SPIN 20000

static pthread_mutex_t sf_pool_mu = PTHREAD_MUTEX_INITIALIZER;
/* what sleeping threads wait for: ready calls, or the end of a job */
static pthread_cond_t sf_pool_cv = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t sf_run_mu = PTHREAD_MUTEX_INITIALIZER;  /* one scheduled run at a time */
static int sf_pool_size;     /* workers made so far (ids 1..sf_pool_size) */
static sf_job *sf_pool_job;  /* the job being run, or NULL */
static int64_t sf_pool_epoch; /* bumped when work may be there: what spinners watch */

static int64_t sf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sf_heap_push(sf_job *j, int64_t v)
{
    int64_t i = j->heap_n++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (j->heap[p] <= v) break;
        j->heap[i] = j->heap[p];
        i = p;
    }
    j->heap[i] = v;
}

static int64_t sf_heap_pop(sf_job *j)
{
    int64_t top = j->heap[0], v = j->heap[--j->heap_n], n = j->heap_n, i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && j->heap[c + 1] < j->heap[c]) c++;
        if (v <= j->heap[c]) break;
        j->heap[i] = j->heap[c];
        i = c;
    }
    if (n) j->heap[i] = v;
    return top;
}

/* Done, stopped by a failure, or stuck (nothing ready, nothing running: a
 * dependency cycle, which well-formed plans never have). */
static int sf_job_over(const sf_job *j)
{
    return j->running == 0 && (j->finished == j->n || j->failed >= 0 || j->heap_n == 0);
}

/* Calls touching fewer bytes than this (inputs and outputs) are too small to want a
 * thread of their own (schedule.py's SCHEDULE_MIN_BYTES): no kernel splits them. */
#define SF_SHARE_MIN_BYTES (1 << 15)

static int sf_call_big(const sf_call *c)
{
    int64_t bytes = 0;
    for (int32_t t = 0; t < c->n_in + c->n_out; t++) {
        const sf_tensor *v = t < c->n_in ? &c->in[t] : &c->out[t - c->n_in];
        bytes += sf_dtype_size(v->dtype) * sf_numel(v);
        if (bytes >= SF_SHARE_MIN_BYTES) return 1;
    }
    return 0;
}

/* A call costing at most 1/SF_PEER_RATIO of another's is not its peer: it neither holds
 * nor claims threads the other could use. */
#define SF_PEER_RATIO 8

static int sf_peer(const sf_job *j, int64_t other, int64_t i)
{
    return !j->cost || j->cost[other] >= j->cost[i] / SF_PEER_RATIO;
}

/* The OpenMP threads call i, starting now, gets: the run's count less what its running
 * peers hold, split evenly with its ready peers worth a thread that idle threads can
 * start at once, and at least one. A call that runs alone (the forward convolution of a
 * network) gets every thread, small ready calls beside it (a cast of the labels) taking
 * none of them; two independent large ones (its two gradients) share them, rather than
 * each taking the count and oversubscribing the cores. A call far cheaper than i (by the
 * plan's estimates: a 10-wide layer's weight gradient beside a 4096-wide product's input
 * gradient) is no peer: the share is fixed for the call's whole run, and halving the
 * long call for the short one's sake would leave a core idle for most of it. The cores
 * are then oversubscribed by the short call's one thread while it lasts. Called with
 * sf_pool_mu held, after the call was counted in `running`. */
static int sf_share(const sf_job *j, int64_t i)
{
    int held = 0;
    for (int w = 0; w < j->threads; w++)
        if (j->run_call[w] >= 0 && j->run_call[w] != i && sf_peer(j, j->run_call[w], i))
            held += j->run_share[w];
    const int idle = j->threads - j->running;
    int64_t others = 0;
    for (int64_t h = 0; h < j->heap_n && others < idle; h++)
        others += sf_call_big(&j->calls[j->heap[h]]) && sf_peer(j, j->heap[h], i);
    int share = (int)((j->omp_threads - held) / (others + 1));
    return share < 1 ? 1 : share;
}

/* Run ready calls of `j` as thread `id` until none is ready; entered and left
 * with sf_pool_mu held. */
static void sf_work(sf_job *j, int id)
{
    while (j->heap_n > 0 && j->failed < 0) {
        int64_t i = sf_heap_pop(j);
        j->running++;
        j->started++;
        j->run_call[id] = i;
        const int share = sf_share(j, i);
        j->run_share[id] = share;
        if (j->heap_n > 0) pthread_cond_signal(&sf_pool_cv); /* more for another worker */
        pthread_mutex_unlock(&sf_pool_mu);
        /* kernels cut their work by its size, so any count gives the same bits */
        if (omp_get_max_threads() != share) omp_set_num_threads(share);
        int64_t t0 = j->trace ? sf_now_ns() : 0;
        int st = j->fns[i](&j->calls[i]);
        if (j->trace) {
            j->trace[4 * i] = t0;
            j->trace[4 * i + 1] = sf_now_ns();
            j->trace[4 * i + 2] = id;
            j->trace[4 * i + 3] = share;
        }
        pthread_mutex_lock(&sf_pool_mu);
        j->running--;
        j->run_call[id] = -1;
        j->finished++;
        if (st != SF_OK) {
            if (j->failed < 0 || i < j->failed) {
                j->failed = i;
                j->fail_status = st;
            }
        } else {
            int64_t pushed = 0;
            for (int64_t e = j->succ_start[i]; e < j->succ_start[i + 1]; e++) {
                int32_t s = j->succ[e];
                if (--j->count[s] == 0) {
                    sf_heap_push(j, s);
                    pushed++;
                }
            }
            if (pushed > 1) {
                __atomic_add_fetch(&sf_pool_epoch, 1, __ATOMIC_RELEASE);
                pthread_cond_broadcast(&sf_pool_cv);
            }
        }
        if (sf_job_over(j)) pthread_cond_broadcast(&sf_pool_cv);
    }
}

static void *sf_worker_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    pthread_mutex_lock(&sf_pool_mu);
    for (;;) {
        sf_job *j = sf_pool_job;
        if (j && id < j->threads && j->heap_n > 0 && j->failed < 0) {
            sf_work(j, id);
            continue;
        }
        /* nothing to do: spin a little without the lock, then sleep */
        int64_t epoch = __atomic_load_n(&sf_pool_epoch, __ATOMIC_ACQUIRE);
        pthread_mutex_unlock(&sf_pool_mu);
        int woke = 0;
        for (int s = 0; s < SF_SPIN; s++) {
            if (__atomic_load_n(&sf_pool_epoch, __ATOMIC_ACQUIRE) != epoch) {
                woke = 1;
                break;
            }
        }
        pthread_mutex_lock(&sf_pool_mu);
        if (!woke) {
            j = sf_pool_job;
            if (!(j && id < j->threads && j->heap_n > 0 && j->failed < 0))
                pthread_cond_wait(&sf_pool_cv, &sf_pool_mu);
        }
    }
    return NULL;
}

/* A forked child has none of the parent's workers, and no run in progress. */
static void sf_pool_after_fork(void)
{
    pthread_mutex_init(&sf_pool_mu, NULL);
    pthread_mutex_init(&sf_run_mu, NULL);
    pthread_mutex_init(&sf_policy_mu, NULL);
    pthread_cond_init(&sf_pool_cv, NULL);
    sf_pool_size = 0;
    sf_pool_job = NULL;
}

static pthread_once_t sf_pool_once = PTHREAD_ONCE_INIT;

static void sf_pool_init(void)
{
    pthread_atfork(NULL, NULL, sf_pool_after_fork);
}

/* Make workers 1..want-1 exist; returns how many threads a job may use. */
static int sf_grow_pool(int want)
{
    if (want > SF_MAX_WORKERS) want = SF_MAX_WORKERS;
    pthread_once(&sf_pool_once, sf_pool_init);
    pthread_mutex_lock(&sf_pool_mu);
    while (sf_pool_size + 1 < want) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &attr, sf_worker_main, (void *)(intptr_t)(sf_pool_size + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0) break; /* no more threads: run with those there are */
        sf_pool_size++;
    }
    int have = sf_pool_size + 1;
    pthread_mutex_unlock(&sf_pool_mu);
    return have < want ? have : want;
}

static int64_t sf_run_in_order(sf_kernel *fns, sf_call *calls, int64_t n, int64_t *trace, int *status)
{
    if (!trace) return sf_run_plan(fns, calls, n, status);
    const int share = omp_in_parallel() ? 1 : omp_get_max_threads();
    for (int64_t i = 0; i < n; i++) {
        trace[4 * i] = sf_now_ns();
        int st = fns[i](&calls[i]);
        trace[4 * i + 1] = sf_now_ns();
        trace[4 * i + 2] = 0;
        trace[4 * i + 3] = share;
        if (st != SF_OK) {
            if (status) *status = st;
            return i;
        }
    }
    if (status) *status = SF_OK;
    return -1;
}

int64_t sf_run_schedule(sf_kernel *fns, sf_call *calls, int64_t n, const int32_t *npred,
                        const int64_t *succ_start, const int32_t *succ, const int64_t *cost,
                        int threads, int64_t *trace, int *status)
{
    if (threads <= 1 || n <= 1 || pthread_mutex_trylock(&sf_run_mu) != 0)
        return sf_run_in_order(fns, calls, n, trace, status);
    int64_t *heap = (int64_t *)malloc((size_t)n * sizeof *heap);
    int32_t *count = (int32_t *)malloc((size_t)n * sizeof *count);
    if (!heap || !count) {
        free(heap);
        free(count);
        pthread_mutex_unlock(&sf_run_mu);
        return sf_run_in_order(fns, calls, n, trace, status);
    }
    sf_job j;
    memset(&j, 0, sizeof j);
    j.fns = fns;
    j.calls = calls;
    j.n = n;
    j.succ_start = succ_start;
    j.succ = succ;
    j.count = count;
    j.heap = heap;
    j.failed = -1;
    j.trace = trace;
    j.cost = cost;
    for (int w = 0; w < SF_MAX_WORKERS; w++) j.run_call[w] = -1;
    /* every call gets the count chosen for this run (the caller's, or fewer when fewer
     * have been faster: sf_run_threads) */
    int slot, rung;
    const int top = omp_in_parallel() ? 1 : omp_get_max_threads();
    j.omp_threads = sf_run_threads(calls, n, &slot, &rung);
    j.threads = sf_grow_pool(threads);
    const int64_t t0 = sf_now_ns();
    memcpy(count, npred, (size_t)n * sizeof *count);
    for (int64_t i = 0; i < n; i++)
        if (count[i] == 0) sf_heap_push(&j, i);

    pthread_mutex_lock(&sf_pool_mu);
    sf_pool_job = &j;
    __atomic_add_fetch(&sf_pool_epoch, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&sf_pool_cv);
    for (;;) {
        sf_work(&j, 0);
        if (sf_job_over(&j)) break;
        if (j.heap_n == 0 || j.failed >= 0) pthread_cond_wait(&sf_pool_cv, &sf_pool_mu);
    }
    sf_pool_job = NULL;
    pthread_mutex_unlock(&sf_pool_mu);
    if (slot >= 0 && j.failed < 0 && j.finished == n)
        sf_policy_record(slot, calls, n, top, rung, sf_now_ns() - t0);
    if (omp_get_max_threads() != top) omp_set_num_threads(top); /* the caller ran calls too */

    free(heap);
    free(count);
    pthread_mutex_unlock(&sf_run_mu);
    if (j.failed < 0 && j.finished != n) { /* a dependency cycle: nothing left was ready */
        if (status) *status = SF_ERR_INTERNAL;
        return j.started < n ? j.started : 0;
    }
    if (status) *status = j.failed >= 0 ? j.fail_status : SF_OK;
    return j.failed;
}

int64_t sf_parallel_min_elems = SF_PARALLEL_MIN_DEFAULT;
int64_t sf_gemm_parallel_min_madds = SF_GEMM_PARALLEL_MIN_DEFAULT;
int64_t sf_gemm_own_min_madds = SF_GEMM_OWN_MIN_DEFAULT;

void sf_set_parallel_min(int64_t n)
{
    sf_parallel_min_elems = n < 0 ? SF_PARALLEL_MIN_DEFAULT : n;
    sf_gemm_parallel_min_madds = n < 0 ? SF_GEMM_PARALLEL_MIN_DEFAULT : n;
    sf_gemm_own_min_madds = n < 0 ? SF_GEMM_OWN_MIN_DEFAULT : n;
}

int sf_num_procs(void)
{
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}

/* ---- threads ------------------------------------------------------------ */

/* OpenMP keeps the thread count per calling thread (an ICV of its initial
 * task): sf_set_num_threads affects parallel regions started by the thread
 * that called it, which for Python is the thread that runs the session. */

static int sf_default_threads; /* OpenMP default, 0 until captured */

static int sf_capture_default(void)
{
    int d;
#pragma omp atomic read
    d = sf_default_threads;
    if (d <= 0) {
        d = omp_get_max_threads();
        if (d < 1) d = 1;
#pragma omp critical(sf_threads)
        {
            if (sf_default_threads <= 0) {
#pragma omp atomic write
                sf_default_threads = d;
            }
        }
    }
    return d;
}

/* The OpenMP thread count, which every kernel's parallel work uses, BLAS
 * products included (they are split over OpenMP threads, linalg.c; the BLAS
 * library itself stays on one thread). */
void sf_set_num_threads(int n)
{
    int d = sf_capture_default();
    omp_set_num_threads(n > 0 ? n : d);
}

int sf_get_num_threads(void)
{
    sf_capture_default();
    return omp_get_max_threads();
}

/* ---- loops of nested plans ---------------------------------------------- */

static void sf_copy_all(const sf_copy *c, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (c[i].nbytes > 0) memcpy(c[i].dst, c[i].src, (size_t)c[i].nbytes);
}

/* One run of a segment: its in copies, its calls, its out copies. */
static int64_t sf_run_segment(const sf_segment *s, int *status)
{
    sf_copy_all(s->copy_in, s->n_copy_in);
    if (s->n > 0) {
        const int64_t failed = sf_run_plan(s->fns, s->calls, s->n, status);
        if (failed >= 0) return failed;
    }
    sf_copy_all(s->copy_out, s->n_copy_out);
    return -1;
}

int64_t sf_run_while(const sf_segment *cond, const uint8_t *pred, const sf_segment *body,
                     int64_t limit, int64_t budget_ns, int64_t *iterations, int *stopped,
                     int *which, int *status)
{
    const int64_t t0 = budget_ns > 0 ? sf_now_ns() : 0;
    int64_t k = 0;
    *stopped = 0;
    *which = 0;
    if (status) *status = SF_OK;
    while (k < limit) {
        int64_t failed = sf_run_segment(cond, status);
        if (failed >= 0) {
            *iterations = k;
            return failed;
        }
        if (!*pred) {
            *stopped = 1;
            break;
        }
        failed = sf_run_segment(body, status);
        if (failed >= 0) {
            *which = 1;
            *iterations = k;
            return failed;
        }
        k++;
        if (budget_ns > 0 && sf_now_ns() - t0 > budget_ns) break;
    }
    *iterations = k;
    return -1;
}
