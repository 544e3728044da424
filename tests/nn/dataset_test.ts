import {
  assertEquals,
  assertNotStrictEquals,
  assertStrictEquals,
} from "@std/assert";
import { imageViews, subset } from "../../src/nn/dataset.ts";
import { syntheticDataset } from "./_fixtures.ts";

Deno.test("imageViews() gives one view per image, sharing the dataset's memory", () => {
  const data = syntheticDataset(5, 6, 3);
  const views = imageViews(data);
  assertEquals(views.length, 5);
  for (let i = 0; i < 5; i++) {
    assertEquals(views[i], data.images.slice(i * 6, (i + 1) * 6));
    assertStrictEquals(views[i].buffer, data.images.buffer);
  }
});

Deno.test("imageViews() builds the views once per images array", () => {
  const data = syntheticDataset(4, 6, 3);
  assertStrictEquals(imageViews(data), imageViews({ ...data }));
  const other = syntheticDataset(4, 6, 3);
  assertNotStrictEquals(imageViews(other), imageViews(data));
});

Deno.test("imageViews() rebuilds when the same array is read with another count or shape", () => {
  const data = syntheticDataset(4, 6, 3);
  imageViews(data);
  const fewer = imageViews({ ...data, count: 2 });
  assertEquals(fewer.length, 2);
  const wider = imageViews({ ...data, count: 2, shape: [12] });
  assertEquals(wider.map((v) => v.length), [12, 12]);
  assertEquals(wider[1], data.images.slice(12, 24));
});

Deno.test("subset() copies the chosen examples in order", () => {
  const data = syntheticDataset(4, 3, 4);
  const picked = subset(data, [2, 0]);
  assertEquals(picked.count, 2);
  assertEquals(picked.labels, Uint8Array.of(2, 0));
  assertEquals(picked.images.subarray(0, 3), data.images.subarray(6, 9));
  assertEquals(picked.shape, [3]);
});
