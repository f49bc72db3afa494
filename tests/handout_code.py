"""The MLP_pixels handout's own functions, as the course gives them (with their mistakes):
graded as-is by tests/test_handout_mistakes.py, diagnosed by tests/test_diagnosis.py."""

HANDOUT_PERF_LOOP = '''
def perf_loop(dataloader, model):
    model.eval()
    Total = len(dataloader.dataset)
    with torch.no_grad():
        correct = 0
        y_pred = []
        for X, y in dataloader:
            pred = model(X)
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
            y_pred.append(pred.argmax(1))
            return correct, Total, torch.cat(y_pred)
'''

HANDOUT_TRAIN_LOOP = '''
def train_loop(dataloader, model, loss_fn, optimizer):
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        pred = model(X)
        loss = loss_fn(pred, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()
'''

HANDOUT_FIT = '''
def fit(model, trainloader, validloader, loss_fn, optimizer, epochs, checkpoint):
    history = {"train_loss": [], "valid_loss": [], "best_epoch": None}
    for epoch in range(epochs):
        train_loss = train_loop(trainloader, model, loss_fn, optimizer)
        valid_loss = valid_loop(validloader, model, loss_fn)
        history["train_loss"].append(train_loss)
        history["valid_loss"].append(valid_loss)
        if epoch > 0 and valid_loss < min(history["valid_loss"][:-1]):
            history["best_epoch"] = epoch
            torch.save(model.state_dict(), checkpoint)
    return history
'''
