package org.anode.train;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The per-epoch metrics file of one run: CSV if the name ends in {@code .csv}, else JSON lines.
 * Columns are fixed: the run's description (in the order given) followed by {@link EpochMetrics}'s
 * fields. A new run starts the file afresh; a resumed run keeps the rows up to the epoch of its
 * checkpoint and drops the rest (rows of epochs whose checkpoint was never written would otherwise
 * appear twice). A row is appended only after that epoch's checkpoint is saved.
 */
final class MetricsLog {
  private static final Pattern JSON_EPOCH = Pattern.compile("\"epoch\":(\\d+)");

  private final Path path;
  private final boolean csv;
  private final String header;
  private final String csvPrefix;
  private final String jsonPrefix;
  private static final int METRIC_COLUMNS = EpochMetrics.CSV_HEADER.split(",").length;

  MetricsLog(Path path, Map<String, String> run) {
    this.path = path;
    this.csv = path.toString().endsWith(".csv");
    StringBuilder h = new StringBuilder();
    StringBuilder c = new StringBuilder();
    StringBuilder j = new StringBuilder();
    for (var e : run.entrySet()) {
      h.append(e.getKey()).append(',');
      c.append(csvValue(e.getValue())).append(',');
      j.append(jsonString(e.getKey())).append(':').append(jsonString(e.getValue())).append(',');
    }
    this.header = h + EpochMetrics.CSV_HEADER;
    this.csvPrefix = c.toString();
    this.jsonPrefix = j.toString();
  }

  /**
   * Prepares the file for a run that continues after {@code epochsDone} finished epochs (0 for a
   * new run): the header, then the existing rows of epochs 1..epochsDone.
   */
  void start(int epochsDone) throws IOException {
    List<String> keep = new ArrayList<>();
    if (csv) {
      keep.add(header);
    }
    if (epochsDone > 0 && Files.exists(path)) {
      List<String> lines = read();
      int first = 0;
      if (csv) {
        if (lines.isEmpty() || !lines.get(0).equals(header)) {
          throw new IOException(
              path
                  + ": its columns ("
                  + (lines.isEmpty() ? "none" : lines.get(0))
                  + ") differ from this run's ("
                  + header
                  + "); give another --metrics file");
        }
        first = 1;
      }
      for (String line : lines.subList(first, lines.size())) {
        int epoch = epochOf(line);
        if (epoch >= 1 && epoch <= epochsDone) {
          keep.add(line);
        }
      }
    }
    try {
      if (path.toAbsolutePath().getParent() != null) {
        Files.createDirectories(path.toAbsolutePath().getParent());
      }
      if (Files.isRegularFile(path) || !Files.exists(path)) {
        Path tmp = path.resolveSibling(path.getFileName() + ".tmp");
        Files.write(tmp, keep, StandardCharsets.UTF_8);
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } else {
        Files.write(path, keep, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
      }
    } catch (IOException e) {
      throw new IOException(
          path + ": cannot write the metrics file (" + Checkpoint.describe(e) + ")", e);
    }
  }

  /** Appends the row of one finished epoch. */
  void append(EpochMetrics m) throws IOException {
    String line = csv ? csvPrefix + m.csv() : "{" + jsonPrefix + m.json().substring(1);
    try {
      Files.write(
          path,
          List.of(line),
          StandardCharsets.UTF_8,
          StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new IOException(
          path + ": cannot write the metrics file (" + Checkpoint.describe(e) + ")", e);
    }
  }

  private List<String> read() throws IOException {
    try {
      return Files.readAllLines(path, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IOException(
          path + ": cannot read the metrics file (" + Checkpoint.describe(e) + ")", e);
    }
  }

  private int epochOf(String line) {
    if (csv) {
      // Counted from the end: the run's values before it may hold quoted commas.
      String[] cells = line.split(",", -1);
      int at = cells.length - METRIC_COLUMNS;
      try {
        return at >= 0 ? Integer.parseInt(cells[at].trim()) : -1;
      } catch (NumberFormatException e) {
        return -1;
      }
    }
    Matcher m = JSON_EPOCH.matcher(line);
    return m.find() ? Integer.parseInt(m.group(1)) : -1;
  }

  private static String csvValue(String v) {
    if (v.contains(",") || v.contains("\"") || v.contains("\n")) {
      return '"' + v.replace("\"", "\"\"") + '"';
    }
    return v;
  }

  private static String jsonString(String v) {
    StringBuilder b = new StringBuilder("\"");
    for (char ch : v.toCharArray()) {
      switch (ch) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        default -> {
          if (ch < 0x20) {
            b.append(String.format("\\u%04x", (int) ch));
          } else {
            b.append(ch);
          }
        }
      }
    }
    return b.append('"').toString();
  }
}
