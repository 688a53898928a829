# tick.S — the lab guest: one 512-byte boot sector.
# It prints "LABVM boot" once, then "tick <hex>" about once a second from a counter kept in
# guest RAM, on COM1 (the domain's serial console file). A counter that keeps counting across
# a migration shows the VM moved with its memory and did not reboot.
# Built with --defsym BUSY=1 it is a write-heavy guest: between ticks, instead of HLT, it
# writes one word into every 4 KiB page from 1 MiB up to BUSY_END (through a 4 GiB "unreal
# mode" FS segment), so every page is dirty again after each pass and pre-copy migration
# cannot converge under a tight downtime/bandwidth limit.
# Built with --defsym FILL=1 it makes that pass once at boot and then idles like the plain
# guest: its RAM up to BUSY_END is all non-zero pages, so a migration has to send it whole
# (an idle guest's RAM is zero pages, which QEMU sends as a flag).
# Built with --defsym OFF_AFTER=N it powers itself off (ACPI) after N ticks.
        .code16
        .globl _start
        .ifndef BUSY_END
        .set BUSY_END, 0x3800000          # 56 MiB: stays below a 64 MiB guest's ACPI tables
        .endif
        .ifdef BUSY
        .set DIRTY, 1
        .endif
        .ifdef FILL
        .set DIRTY, 1
        .endif
_start: cli
        xorw  %ax, %ax
        movw  %ax, %ds
        movw  %ax, %es
        movw  %ax, %ss
        movw  $0x7c00, %sp
        # 8250 UART: 115200 8N1, interrupts off
        movw  $0x3f9, %dx ; xorb %al, %al ; outb %al, %dx
        movw  $0x3fb, %dx ; movb $0x80, %al ; outb %al, %dx
        movw  $0x3f8, %dx ; movb $1, %al ; outb %al, %dx
        movw  $0x3f9, %dx ; xorb %al, %al ; outb %al, %dx
        movw  $0x3fb, %dx ; movb $3, %al ; outb %al, %dx
        movl  $0, counter
        movw  $banner, %si
        call  puts
        .ifdef FILL
        movl  $1, %ecx
        call  dirty
        .endif
        sti
mainloop:
        movl  0x46c, %ebx              # BIOS tick count, 18.2 Hz
1:
        .ifdef BUSY
        call  dirty
        sti
        nop                            # let the pending timer interrupt in
        .else
        hlt
        .endif
        movl  0x46c, %eax
        subl  %ebx, %eax
        cmpl  $18, %eax
        jb    1b
        movw  $tickmsg, %si
        call  puts
        movl  counter, %eax
        call  puthex32
        movw  $crlf, %si
        call  puts
        incl  counter
        .ifdef OFF_AFTER
        # the guest powers itself off (ACPI S5: SLP_EN in PM1a_CNT; SeaBIOS puts the
        # PIIX4 PM block at 0x600 and QEMU's _S5 type is 0), as an OS shutting down would
        cmpl  $OFF_AFTER, counter
        jb    mainloop
        movw  $0x604, %dx
        movw  $0x2000, %ax
        outw  %ax, %dx
        .endif
        jmp   mainloop
        .ifdef DIRTY
# one word into every 4 KiB page from 1 MiB up to BUSY_END. The pass runs with interrupts
# off: BIOS interrupt handlers may reload FS and drop the 4 GiB limit, so unreal mode is
# set up again before every pass. Returns with interrupts still off.
dirty:  cli
        call  unreal
        movl  $0x100000, %edi
        orl   $1, %ecx                 # non-zero, so QEMU cannot send it as a zero page
2:      movl  %ecx, %fs:(%edi)
        incl  %ecx
        addl  $4096, %edi
        cmpl  $BUSY_END, %edi
        jb    2b
        ret
# big unreal mode: load FS from a flat 4 GiB data descriptor in protected mode, then go back
# to real mode; FS keeps the cached limit (SeaBIOS leaves A20 enabled). Interrupts must be off.
unreal: lgdt  gdtdesc
        movl  %cr0, %eax
        orb   $1, %al
        movl  %eax, %cr0
        jmp   0f
0:      movw  $8, %ax
        movw  %ax, %fs
        movl  %cr0, %eax
        andb  $0xfe, %al
        movl  %eax, %cr0
        jmp   7f
7:      ret
        .endif
putc:   pushw %dx
        pushw %ax
        movw  $0x3fd, %dx
3:      inb   %dx, %al
        testb $0x20, %al
        jz    3b
        popw  %ax
        movw  $0x3f8, %dx
        outb  %al, %dx
        popw  %dx
        ret
puts:   lodsb
        testb %al, %al
        jz    4f
        call  putc
        jmp   puts
4:      ret
puthex32:
        movl  %eax, %edx
        movw  $8, %cx
5:      roll  $4, %edx
        movb  %dl, %al
        andb  $0x0f, %al
        addb  $'0', %al
        cmpb  $'9', %al
        jbe   6f
        addb  $7, %al
6:      call  putc
        loop  5b
        ret
banner:  .asciz "LABVM boot\r\n"
tickmsg: .asciz "tick "
crlf:    .asciz "\r\n"
        .p2align 3
        .ifdef DIRTY
gdt:     .quad 0
         .quad 0x00cf92000000ffff       # base 0, limit 4 GiB, 4 KiB granular, data RW
gdtdesc: .word 15
         .long gdt
        .endif
counter: .long 0
        .org  510
        .byte 0x55, 0xaa
