/* Math shared by the native kernels (model/attend_kept.c, model/experts_rows.c). */
#ifndef R1LSP_NATIVE_MATH_H
#define R1LSP_NATIVE_MATH_H

/* exp(x) of x clamped to [-87, 88], as code the compiler vectorizes (relative error ~1e-7) */
static inline float exp_clamped(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float n = __builtin_rintf(x * 1.44269504088896341f);
    float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666672e-1f + r * (4.16666679e-2f + r * (8.33333377e-3f
              + r * (1.38888892e-3f + r * 1.98412701e-4f))))));
    union { float f; int i; } u = { .f = p };
    u.i += (int)n << 23;
    return u.f;
}

#endif
