#ifndef BUZZBRIDGE_CONCURRENCY_HOOK_H
#define BUZZBRIDGE_CONCURRENCY_HOOK_H

#include <stdbool.h>

/// Sets the Swift runtime's global-enqueue hook (`swift_task_enqueueGlobal_hook` in
/// libswift_Concurrency) to `hook`, unless something has set it already. Returns whether it did.
///
/// The hook is reached here by the linker rather than looked up with `dlsym`, which is how
/// swift-nio's own installer finds it: a binary linked with `--static-swift-stdlib` keeps the
/// runtime's symbols out of its dynamic symbol table, so `dlsym` finds nothing there.
bool buzzbridge_install_enqueue_global_hook(void *_Nonnull hook);

#endif
