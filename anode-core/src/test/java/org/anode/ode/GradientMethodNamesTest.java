package org.anode.ode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link GradientMethod#named} parses back what {@link GradientMethod#name()} prints. */
class GradientMethodNamesTest {
  @Test
  void namesRoundTrip() {
    for (String n :
        new String[] {
          "anode", "anode-recompute-all", "store-all", "revolve:3", "adjoint", "reversible"
        }) {
      assertEquals(n, GradientMethod.named(n).name());
    }
    assertInstanceOf(CheckpointedGradient.class, GradientMethod.named(" ANODE "));
    assertEquals(3, ((RevolveGradient) GradientMethod.named("revolve:3")).snapshots());
  }

  @Test
  void unknownNamesSayWhatIsAccepted() {
    var e = assertThrows(IllegalArgumentException.class, () -> GradientMethod.named("adjiont"));
    assertTrue(
        e.getMessage().contains("store-all, revolve:S, adjoint or reversible"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> GradientMethod.named("revolve:x"));
    assertTrue(e.getMessage().contains("revolve:x"), e.getMessage());
  }
}
