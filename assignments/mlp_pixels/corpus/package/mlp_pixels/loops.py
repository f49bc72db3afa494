import torch

OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}


def _epoch(dataloader, model, loss_fn, optimizer=None):
    losses = []
    for x, y in dataloader:
        loss = loss_fn(model(x), y)
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def train_loop(dataloader, model, loss_fn, optimizer):
    model.train()
    return _epoch(dataloader, model, loss_fn, optimizer)


def valid_loop(dataloader, model, loss_fn):
    model.eval()
    with torch.no_grad():
        return _epoch(dataloader, model, loss_fn)


def perf_loop(dataloader, model):
    model.eval()
    with torch.no_grad():
        pairs = [(model(x).argmax(1), y) for x, y in dataloader]
    y_pred = torch.cat([p for p, _ in pairs]).numpy()
    labels = torch.cat([y for _, y in pairs]).numpy()
    return int((y_pred == labels).sum()), len(labels), y_pred


def make_optimizer(name, params, lr):
    try:
        return OPTIMIZERS[name.lower()](params, lr=lr)
    except KeyError:
        raise ValueError(f"unknown optimizer {name}") from None


def fit(model, trainloader, validloader, loss_fn, optimizer, epochs, checkpoint):
    history = {"train_loss": [], "valid_loss": [], "best_epoch": 0}
    for epoch in range(epochs):
        history["train_loss"].append(train_loop(trainloader, model, loss_fn, optimizer))
        history["valid_loss"].append(valid_loop(validloader, model, loss_fn))
        if history["valid_loss"][-1] <= min(history["valid_loss"]):
            history["best_epoch"] = epoch
            torch.save(model.state_dict(), checkpoint)
    return history
