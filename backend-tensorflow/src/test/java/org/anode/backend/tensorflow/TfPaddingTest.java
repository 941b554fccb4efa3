package org.anode.backend.tensorflow;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.anode.api.Conv2dSpec;
import org.anode.api.Shape;
import org.junit.jupiter.api.Test;

/**
 * The padding scheme a convolution graph is built with: VALID or SAME exactly when they read the
 * input positions the spec's symmetric padding reads (the conformance suite checks the numbers of
 * each scheme against the reference and finite differences).
 */
class TfPaddingTest {
  private static final Shape W3 = Shape.of(8, 4, 3, 3);

  private static String scheme(int h, int w, Shape weight, Conv2dSpec spec) {
    return TfPadding.of(Shape.of(2, 4, h, w), weight, spec).scheme();
  }

  @Test
  void noPaddingIsValid() {
    assertEquals("VALID", scheme(32, 32, W3, Conv2dSpec.of(1, 0)));
    assertEquals("VALID", scheme(32, 32, Shape.of(8, 4, 1, 1), Conv2dSpec.of(2, 0)));
  }

  @Test
  void stride1HalfKernelPaddingIsSame() {
    assertEquals("SAME", scheme(32, 32, W3, Conv2dSpec.of(1, 1)));
    assertEquals("SAME", scheme(7, 6, W3, Conv2dSpec.of(1, 1)));
    assertEquals(
        "SAME", scheme(5, 6, Shape.of(8, 4, 1, 3), Conv2dSpec.defaults().withPadding(0, 1)));
    // a dilated 3×3 (5 wide) with padding 2
    assertEquals("SAME", scheme(8, 8, W3, Conv2dSpec.of(1, 2).withDilation(2, 2)));
  }

  @Test
  void stride2OnAnEvenSizeIsExplicit() {
    // SAME would pad 0 before and 1 after; the spec pads 1 before: a shifted window
    TfPadding p = TfPadding.of(Shape.of(2, 4, 32, 32), W3, Conv2dSpec.of(2, 1));
    assertEquals("EXPLICIT", p.scheme());
    assertEquals(List.of(0L, 0L, 1L, 1L, 1L, 1L, 0L, 0L), p.explicit());
    // odd height: SAME pads 1 before as well, but the even width still needs EXPLICIT
    assertEquals("EXPLICIT", scheme(7, 6, W3, Conv2dSpec.of(2, 1)));
    assertEquals("SAME", scheme(7, 7, W3, Conv2dSpec.of(2, 1)));
  }

  @Test
  void paddingBeyondSameIsExplicit() {
    // a larger output than SAME's
    assertEquals("EXPLICIT", scheme(8, 8, W3, Conv2dSpec.of(1, 2)));
  }
}
