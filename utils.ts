// `torch.utils`: `torch.utils.data` (datasets and loaders).

export * as data from "@flint/data";
