package org.anode.backend.tensorflow;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.List;
import org.anode.api.Conv2dSpec;
import org.junit.jupiter.api.Test;

/**
 * A compiled kernel is found again only for the same graph: whatever its builder captured is part
 * of the key, compared by value, even when the attribute string forgets it.
 */
class KernelKeyTest {

  static TfKernel.Builder conv(Conv2dSpec spec, int[] perm) {
    return (tf, in) -> {
      throw new AssertionError(spec + " " + perm.length); // never built here
    };
  }

  static TfKernel.MultiBuilder wrapped(TfKernel.Builder b) {
    return (tf, in) -> List.of(b.build(tf, in));
  }

  @Test
  void capturedValuesAreComparedByValue() {
    List<TfKernel.Input> sig = List.of();
    KernelKey a =
        KernelKey.of("conv2d", "", sig, conv(Conv2dSpec.of(1, 1), new int[] {0, 2, 3, 1}));
    KernelKey same =
        KernelKey.of("conv2d", "", sig, conv(Conv2dSpec.of(1, 1), new int[] {0, 2, 3, 1}));
    KernelKey otherSpec =
        KernelKey.of("conv2d", "", sig, conv(Conv2dSpec.of(2, 1), new int[] {0, 2, 3, 1}));
    KernelKey otherPerm =
        KernelKey.of("conv2d", "", sig, conv(Conv2dSpec.of(1, 1), new int[] {0, 3, 1, 2}));
    assertEquals(a, same);
    assertEquals(a.hashCode(), same.hashCode());
    assertNotEquals(a, otherSpec, "a forgotten attribute (the stride) still tells graphs apart");
    assertNotEquals(a, otherPerm);
  }

  @Test
  void lambdasCapturedByLambdasAreComparedByWhatTheyCaptured() {
    List<TfKernel.Input> sig = List.of();
    KernelKey a = KernelKey.of("x", "", sig, wrapped(conv(Conv2dSpec.of(1, 1), new int[] {1})));
    KernelKey b = KernelKey.of("x", "", sig, wrapped(conv(Conv2dSpec.of(1, 1), new int[] {1})));
    KernelKey c = KernelKey.of("x", "", sig, wrapped(conv(Conv2dSpec.of(1, 0), new int[] {1})));
    assertEquals(a, b, "a fresh wrapper per call must not defeat the cache");
    assertNotEquals(a, c);
  }
}
