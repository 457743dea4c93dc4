#include "ConcurrencyHook.h"

#include <stddef.h>

// Defined by the Swift runtime (a function pointer; only its storage matters here).
extern void *swift_task_enqueueGlobal_hook;

bool buzzbridge_install_enqueue_global_hook(void *hook) {
    void *expected = NULL;
    return __atomic_compare_exchange_n(&swift_task_enqueueGlobal_hook, &expected, hook, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}
