/*
 * switch_aarch64.S - context switch for AArch64 (AAPCS64).
 *
 * cio__ctx_swap(void **from_sp, void *to_sp): stores the callee-saved
 * registers x19-x30 and d8-d15 in a 176-byte frame on the current stack,
 * stores sp into *from_sp, loads to_sp, restores the frame and branches to
 * the restored x30 with br (an indirect branch, not ret, for the same
 * predictor reason as on x86-64).
 *
 * A new context starts in cio__ctx_start with x19 = entry, x20 = argument.
 */
#if defined(__aarch64__) && !defined(CIO_CORO_UCONTEXT)
    .text
    .globl  cio__ctx_swap
    .hidden cio__ctx_swap
    .type   cio__ctx_swap, %function
    .p2align 4
cio__ctx_swap:
    sub     sp, sp, #176
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mov     x2, sp
    str     x2, [x0]
    mov     sp, x1
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    add     sp, sp, #176
    br      x30
    .size   cio__ctx_swap, .-cio__ctx_swap

    .globl  cio__ctx_start
    .hidden cio__ctx_start
    .type   cio__ctx_start, %function
    .p2align 4
cio__ctx_start:
    mov     x0, x20
    blr     x19
    brk     #0
    .size   cio__ctx_start, .-cio__ctx_start
#endif
    .section .note.GNU-stack,"",%progbits
