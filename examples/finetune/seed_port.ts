// The seed's Baichuan2 fine-tuning script (Moreh's MoAI tutorial, train_baichuan2_13b.py), ported
// line by line: each Python line stands as a comment above its TypeScript. The changes are
// spellings only — `model(...)`, keyword arguments as an options object, `import`s, `new`,
// `for ... of`, `await` on load_dataset — with two stated exceptions: argparse is node's parseArgs,
// and the dataset is a local instruction/response file (the seed reads Bitext's from the hub; this
// runs offline): data/instructions.jsonl, the tutorial's reverse/upper rows. The original .py is not
// in this repository: the Python below follows the script as Moreh's tutorial pages show it
// (docs.moreh.io/tutorials/baichuan2_tutorial, "Understanding Training Code").
//
// The model is the hub id, found in the Hugging Face cache. With no network, place a tiny
// Baichuan2-13B-shaped model there first:
//   node --import tsx examples/finetune/lib/tiny_baichuan.ts
//   HF_HUB_OFFLINE=1 npx tessera run examples/finetune/seed_port.ts --batch-size 16 --block-size 40
//
// import copy
// import time
// import torch
// from loguru import logger
// from argparse import ArgumentParser
// from datasets import load_dataset
// from transformers import AutoModelForCausalLM, AutoTokenizer
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { torch } from "tessera";
import { load_dataset, type Row } from "tessera/datasets";
import { AutoModelForCausalLM, AutoTokenizer, type PreTrainedTokenizer } from "tessera/transformers";

const logger = { info: (msg: string): void => console.log(`${new Date().toISOString()} | INFO | ${msg}`) };
type Tensor = torch.Tensor;

// # Compose pad token mask
// def create_mask(input_ids, tokenizer):
function create_mask(input_ids: Tensor, tokenizer: PreTrainedTokenizer): Tensor {
  //     pad_token_ids = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
  const pad_token_ids = tokenizer.pad_token_id !== null ? tokenizer.pad_token_id : tokenizer.eos_token_id;
  //     return (input_ids != pad_token_ids).long()
  return input_ids.ne(pad_token_ids as number).long();
}

// # Mask pad tokens
// def mask_pads(inputs, tokenizer, ignore_index = -100):
function mask_pads(inputs: Tensor, tokenizer: PreTrainedTokenizer, ignore_index = -100): Tensor {
  //     idx_mask = create_mask(inputs, tokenizer)
  const idx_mask = create_mask(inputs, tokenizer);
  //     labels = copy.deepcopy(inputs)
  const labels = inputs.clone();
  //     labels[~idx_mask.bool()] = ignore_index
  labels.index_put_([idx_mask.bool().logical_not()], torch.tensor(ignore_index, { dtype: labels.dtype }));
  //     return labels
  return labels;
}

// # Construct a formatted prompt
// def create_prompt(prompt):
function create_prompt(prompt: Row): string {
  //     full_prompt = f"[INST] {prompt['instruction']} [/INST]\n{prompt['response']}"
  const full_prompt = `[INST] ${prompt["instruction"]} [/INST]\n${prompt["response"]}`;
  //     return full_prompt
  return full_prompt;
}

// # Arguments
// def parse_args():
function parse_args(argv: string[] = process.argv.slice(2)) {
  //     parser = ArgumentParser(description="Baichuan2 FineTuning")
  //     parser.add_argument("--model-name-or-path", type=str, default="baichuan-inc/Baichuan2-13B-Base", help="model name or path")
  //     parser.add_argument("--dataset-path", type=str, default="bitext/Bitext-customer-support-llm-chatbot-training-dataset", help="dataset name or path")
  //     parser.add_argument("--epochs", type=int, default=1, help="num training epochs")
  //     parser.add_argument("--batch-size", type=int, default=256, help="num batch size")
  //     parser.add_argument("--block-size", type=int, default=1024, help="max input token length")
  //     parser.add_argument("--lr", type=float, default=0.00001, help="learning rate")
  //     parser.add_argument("--save-path", type=str, default="./baichuan_code_generation", help="model save path")
  //     parser.add_argument("--log-interval", type=int, default=10, help="log interval")
  //     args = parser.parse_args()
  const { values } = parseArgs({
    args: argv,
    options: {
      "model-name-or-path": { type: "string", default: "baichuan-inc/Baichuan2-13B-Base" },
      "dataset-path": { type: "string", default: fileURLToPath(new URL("data/instructions.jsonl", import.meta.url)) },
      epochs: { type: "string", default: "1" },
      "batch-size": { type: "string", default: "256" },
      "block-size": { type: "string", default: "1024" },
      lr: { type: "string", default: "0.00001" },
      "save-path": { type: "string", default: "./baichuan_code_generation" },
      "log-interval": { type: "string", default: "10" },
    },
  });
  const args = {
    model_name_or_path: values["model-name-or-path"] as string,
    dataset_path: values["dataset-path"] as string,
    epochs: Number.parseInt(values.epochs as string, 10),
    batch_size: Number.parseInt(values["batch-size"] as string, 10),
    block_size: Number.parseInt(values["block-size"] as string, 10),
    lr: Number.parseFloat(values.lr as string),
    save_path: values["save-path"] as string,
    log_interval: Number.parseInt(values["log-interval"] as string, 10),
  };
  //     return args
  return args;
}

// def main(args):
async function main(args: ReturnType<typeof parse_args>): Promise<void> {
  //     torch.moreh.option.enable_advanced_parallelization()
  torch.moreh.option.enable_advanced_parallelization();

  //     model = AutoModelForCausalLM.from_pretrained(args.model_name_or_path, trust_remote_code=True)
  let model = AutoModelForCausalLM.from_pretrained(args.model_name_or_path, { trust_remote_code: true });
  //     tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path, trust_remote_code=True)
  const tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path, { trust_remote_code: true });

  //     dataset = load_dataset(args.dataset_path)   # the port: load_dataset("json", data_files=args.dataset_path)
  let dataset = await load_dataset("json", { data_files: args.dataset_path });
  //     dataset = dataset["train"].train_test_split(0.1)
  dataset = dataset["train"].train_test_split({ test_size: 0.1 });

  //     def preprocess(prompt):
  const preprocess = (prompt: Row) => {
    //         tokenized = tokenizer(create_prompt(prompt), padding="max_length", truncation=True, max_length=args.block_size)
    const tokenized = tokenizer(create_prompt(prompt), { padding: "max_length", truncation: true, max_length: args.block_size });
    //         return tokenized
    return tokenized;
  };
  //     dataset = dataset.map(preprocess).with_format("torch")
  const tokenized = dataset.map(preprocess).with_format("torch");

  //     # Create a DataLoader for the training set
  //     train_dataloader = torch.utils.data.DataLoader(dataset["train"], batch_size=args.batch_size, shuffle=True, drop_last=True)
  const train_dataloader = new torch.utils.data.DataLoader(tokenized["train"], {
    batch_size: args.batch_size,
    shuffle: true,
    drop_last: true,
  });
  //     # Create a DataLoader for the validation set
  //     eval_dataloader = torch.utils.data.DataLoader(dataset["test"], batch_size=args.batch_size, shuffle=False, drop_last=True)
  const eval_dataloader = new torch.utils.data.DataLoader(tokenized["test"], {
    batch_size: args.batch_size,
    shuffle: false,
    drop_last: true,
  });

  //     optim = torch.optim.AdamW(model.parameters(), lr=args.lr)
  const optim = new torch.optim.AdamW(model.parameters(), { lr: args.lr });

  //     total_step = len(train_dataloader) * args.epochs
  const total_step = train_dataloader.len() * args.epochs;

  //     # Start training
  //     for epoch in range(args.epochs):
  for (let epoch = 0; epoch < args.epochs; epoch++) {
    //         st = time.time()
    let st = performance.now() / 1000;
    //         model.train()
    model.train();
    //         for step, batch in enumerate(train_dataloader, start=1):
    let step = 0;
    for (const batch of train_dataloader) {
      step += 1;
      //             input_ids = batch["input_ids"]
      const input_ids = batch["input_ids"];
      //             attn_mask = batch["attention_mask"]
      const attn_mask = batch["attention_mask"]!;
      //             labels = mask_pads(input_ids, tokenizer)
      const labels = mask_pads(input_ids, tokenizer);
      //             outputs = model(
      //                 input_ids.cuda(),
      //                 attention_mask=attn_mask.cuda(),
      //                 labels=labels.cuda(),
      //                 use_cache=False,
      //             )
      const outputs = model(input_ids.cuda(), {
        attention_mask: attn_mask.cuda(),
        labels: labels.cuda(),
        use_cache: false,
      });
      //             loss = outputs[0]
      const loss = outputs[0];
      //             loss.backward()
      loss.backward();

      //             optim.step()
      optim.step();
      //             model.zero_grad(set_to_none=True)
      model.zero_grad({ set_to_none: true });

      //             # Logging
      //             if step % args.log_interval == 0:
      if (step % args.log_interval === 0) {
        //                 if step == args.log_interval:
        //                     step_interval = args.log_interval - 1
        //                 else:
        //                     step_interval = args.log_interval
        const step_interval = step === args.log_interval ? args.log_interval - 1 : args.log_interval;
        //                 elapsed = time.time() - st
        const elapsed = performance.now() / 1000 - st;
        //                 logger.info(f"[Step {step+(epoch*len(train_dataloader))}/{total_step}] | Loss: {loss.item()} | Duration: {elapsed:.2f} | Throughput: {((step_interval * args.batch_size * args.block_size) / elapsed):.2f} tokens/sec")
        logger.info(
          `[Step ${step + epoch * train_dataloader.len()}/${total_step}] | Loss: ${loss.item()} | Duration: ${elapsed.toFixed(2)} | Throughput: ${((step_interval * args.batch_size * args.block_size) / elapsed).toFixed(2)} tokens/sec`,
        );
        //                 st = time.time()
        st = performance.now() / 1000;
      }
    }

    //         model.eval()
    model.eval();
    //         eval_loss = 0.0
    let eval_loss = 0.0;
    //         with torch.no_grad():
    torch.no_grad(() => {
      //             for eval_batch in eval_dataloader:
      for (const eval_batch of eval_dataloader) {
        //                 input_ids = eval_batch["input_ids"]
        const input_ids = eval_batch["input_ids"];
        //                 attn_mask = eval_batch["attention_mask"]
        const attn_mask = eval_batch["attention_mask"]!;
        //                 labels = mask_pads(input_ids, tokenizer)
        const labels = mask_pads(input_ids, tokenizer);
        //                 outputs = model(input_ids.cuda(), attention_mask=attn_mask.cuda(), labels=labels.cuda(), use_cache=False)
        const outputs = model(input_ids.cuda(), { attention_mask: attn_mask.cuda(), labels: labels.cuda(), use_cache: false });
        //                 eval_loss += outputs[0].item()
        eval_loss += outputs[0].item();
      }
    });
    //         logger.info(f"EVAL STEP: {epoch + 1} / {args.epochs} | EVAL LOSS: {eval_loss / len(eval_dataloader)}")
    logger.info(`EVAL STEP: ${epoch + 1} / ${args.epochs} | EVAL LOSS: ${eval_loss / eval_dataloader.len()}`);
  }

  //     print("Training Done")
  console.log("Training Done");
  //     print("Saving Model...")
  console.log("Saving Model...");
  //     # Save trained model
  //     model = model.to("cpu")
  model = model.to("cpu");
  //     model.save_pretrained(args.save_path)
  model.save_pretrained(args.save_path);
  //     tokenizer.save_pretrained(args.save_path)
  tokenizer.save_pretrained(args.save_path);
  //     print(f"Model saved in {args.save_path}")
  console.log(`Model saved in ${args.save_path}`);
}

// if __name__ == "__main__":
//     args = parse_args()
//     main(args)
const args = parse_args();
await main(args);
