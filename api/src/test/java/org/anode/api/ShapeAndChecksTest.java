package org.anode.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShapeAndChecksTest {

  @Test
  void shapeBasics() {
    Shape s = Shape.of(2, 3, 4);
    assertEquals(24, s.numel());
    assertEquals(96, s.bytes(DType.FLOAT32));
    assertEquals(4, s.dim(-1));
    assertEquals(Shape.of(2, 5, 4), s.with(1, 5));
    assertEquals(1, Shape.scalar().numel());
    assertThrows(IllegalArgumentException.class, () -> Shape.of(2, -1));
    assertThrows(IllegalArgumentException.class, () -> s.dim(3));
  }

  @Test
  void explicitBroadcasting() {
    assertEquals(
        Shape.of(8, 3, 5, 5), Checks.broadcast("add", Shape.of(8, 3, 5, 5), Shape.of(1, 3, 1, 1)));
    assertEquals(Shape.of(2, 3), Checks.broadcast("add", Shape.scalar(), Shape.of(2, 3)));
    IllegalArgumentException rank =
        assertThrows(
            IllegalArgumentException.class,
            () -> Checks.broadcast("add", Shape.of(3), Shape.of(2, 3)));
    assertTrue(rank.getMessage().contains("different ranks"));
    IllegalArgumentException dim =
        assertThrows(
            IllegalArgumentException.class,
            () -> Checks.broadcast("mul", Shape.of(2, 3), Shape.of(2, 4)));
    assertTrue(dim.getMessage().contains("dimension 1: 3 vs 4"), dim.getMessage());
  }

  @Test
  void convAndPoolShapes() {
    Conv2dSpec s = Conv2dSpec.of(2, 1);
    assertEquals(
        Shape.of(8, 16, 16, 16), s.outputShape(Shape.of(8, 3, 32, 32), Shape.of(16, 3, 3, 3)));
    Conv2dSpec oneByThree = Conv2dSpec.defaults().withPadding(0, 1);
    assertEquals(
        Shape.of(1, 4, 7, 9), oneByThree.outputShape(Shape.of(1, 2, 7, 9), Shape.of(4, 2, 1, 3)));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> s.withGroups(2).outputShape(Shape.of(1, 3, 8, 8), Shape.of(4, 1, 3, 3)));
    assertTrue(e.getMessage().contains("groups=2"), e.getMessage());
    assertEquals(Shape.of(2, 3, 8, 8), Pool2dSpec.of(4).outputShape(Shape.of(2, 3, 32, 32)));
  }

  @Test
  void axesAndReducedShapes() {
    Shape s = Shape.of(2, 3, 4, 5);
    assertArrayEquals(new int[] {0, 2, 3}, Checks.axes("sum", s, 3, 0, -2));
    assertEquals(Shape.of(1, 3, 1, 1), Checks.reducedShape(s, new int[] {0, 2, 3}, true));
    assertEquals(Shape.of(3), Checks.reducedShape(s, new int[] {0, 2, 3}, false));
    assertThrows(IllegalArgumentException.class, () -> Checks.axes("sum", s, 1, 1));
  }
}
