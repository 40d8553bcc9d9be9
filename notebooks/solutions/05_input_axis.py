# Solutions of chapter 5 (notebooks/src/05_input_axis.py): each block replaces the exercise cell
# with the same first line.
# ruff: noqa: F821  (names of the chapter: evals, input_axis, exit_cost, G, n)

# %%
# EXERCISE 5.1
def strided_order(T: int, G: int) -> list[int]:
    bits = max(1, (G - 1).bit_length())
    offsets = sorted(range(G), key=lambda j: int(format(j, f"0{bits}b")[::-1], 2))
    return [o + i * G for o in offsets for i in range(T // G)]


# %%
# EXERCISE 5.2
answer_order = max(evals, key=lambda order: evals[order].sim.stop_histogram[0])

# %%
# EXERCISE 5.3
ev = evals["strided"]
stop, _, _ = input_axis(ev.test.frame_logits[:, -1], ev.thresholds, G, exit_cost[-1])
mean_frames = n * (stop + 1).double().mean().item()
